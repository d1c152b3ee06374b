"""V-ZAM's OpenID Connect client (Authlib): configuration, the cached
discovery document and keys, and the end-session address. The sign-in routes
are in ``vzam.py``."""

import time
from urllib.parse import urlsplit

import requests
from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, url_for

NAME = "vzam"


class ProviderError(RuntimeError):
    """The provider's discovery document cannot be used."""


def configured() -> bool:
    cfg = current_app.config
    return bool(
        cfg.get("VZAM_ISSUER")
        and cfg.get("VZAM_CLIENT_ID")
        and cfg.get("VZAM_CLIENT_SECRET")
    )


def init_app(app: Flask) -> None:
    app.jinja_env.globals["vzam_enabled"] = configured
    cfg = app.config
    if not (
        cfg.get("VZAM_ISSUER")
        and cfg.get("VZAM_CLIENT_ID")
        and cfg.get("VZAM_CLIENT_SECRET")
    ):
        return
    issuer = cfg["VZAM_ISSUER"]
    oauth = OAuth(app)
    oauth.register(
        NAME,
        client_id=cfg["VZAM_CLIENT_ID"],
        client_secret=cfg["VZAM_CLIENT_SECRET"],
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": cfg["VZAM_SCOPE"],
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": cfg["VZAM_HTTP_TIMEOUT_SECONDS"],
        },
    )
    app.extensions["hezo_vzam"] = oauth
    # Signing out leads to the provider's end-session page: a form post that
    # redirects there must be allowed by the pages' form-action.
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"

    @app.after_request
    def _allow_provider_form_action(response):
        csp = response.headers.get("Content-Security-Policy")
        if csp and origin not in csp:
            response.headers["Content-Security-Policy"] = csp.replace(
                "form-action 'self'", f"form-action 'self' {origin}"
            )
        return response


def client():
    """The Authlib client, its discovery document (and keys) at most
    ``VZAM_METADATA_TTL_SECONDS`` old, from the configured issuer."""
    oauth_client = current_app.extensions["hezo_vzam"].create_client(NAME)
    loaded = oauth_client.server_metadata.get("_loaded_at")
    ttl = current_app.config["VZAM_METADATA_TTL_SECONDS"]
    if loaded is not None and time.time() - loaded > ttl:
        oauth_client.server_metadata.clear()
    metadata = oauth_client.load_server_metadata()
    if metadata.get("issuer") != current_app.config["VZAM_ISSUER"]:
        oauth_client.server_metadata.clear()
        raise ProviderError(f"discovery names issuer {metadata.get('issuer')!r}")
    return oauth_client


# -- signing out ---------------------------------------------------------------


def end_session_url() -> str | None:
    """The provider's end-session page to go to after signing out here, when
    the provider has one (and answers)."""
    if not configured():
        return None
    try:
        endpoint = client().load_server_metadata().get("end_session_endpoint")
    except (requests.RequestException, ValueError, ProviderError):
        return None
    if not endpoint:
        return None
    return add_params_to_uri(
        endpoint,
        {
            "client_id": current_app.config["VZAM_CLIENT_ID"],
            "post_logout_redirect_uri": url_for("root.index", _external=True),
        },
    )
