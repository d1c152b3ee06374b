"""The test OpenID provider itself: what the V-ZAM tests rely on it to do."""

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from .oidc.fixture import PARTNER_NIP


def _session(provider, **kwargs):
    return OAuth2Session(
        provider.client_id,
        provider.client_secret,
        scope="openid email profile",
        redirect_uri="http://localhost/vzam/callback",
        **kwargs,
    )


def _metadata(provider):
    url = provider.issuer + "/.well-known/openid-configuration"
    return requests.get(url, timeout=10).json()


def test_code_flow_with_pkce_gives_a_signed_id_token_with_nip_and_amr(oidc_provider):
    meta = _metadata(oidc_provider)
    assert meta["issuer"] == oidc_provider.issuer
    assert meta["end_session_endpoint"]
    client = _session(oidc_provider, code_challenge_method="S256")
    verifier = "v" * 50
    url, _state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="n-1"
    )
    back = oidc_provider.sign_in(url, "anna.mfa")
    token = client.fetch_token(
        meta["token_endpoint"],
        authorization_response="http://localhost" + back,
        code_verifier=verifier,
    )
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], keys).claims
    assert claims["iss"] == oidc_provider.issuer
    assert claims["sub"] == "anna.mfa"
    assert claims["partner_nip"] == PARTNER_NIP
    assert claims["nonce"] == "n-1"
    assert "mfa" in claims["amr"]
    # Signed with the key the tests hold (they sign their own bad tokens).
    jwt.decode(token["id_token"], oidc_provider.key)


def test_a_request_without_pkce_is_refused(oidc_provider):
    meta = _metadata(oidc_provider)
    url, _ = _session(oidc_provider).create_authorization_url(
        meta["authorization_endpoint"], nonce="n"
    )
    back = oidc_provider.sign_in(url, "anna.mfa")
    assert "error=invalid_request" in back
    assert "code=" not in back
