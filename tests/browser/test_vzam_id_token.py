"""An expired or wrongly signed ID token, from the real test provider, in Chromium.

Each test starts its own provider (``running_provider``): one whose clock runs
behind, so that the ID tokens it issues have expired when the portal gets
them, and one that is started again at the same issuer URL with another key
after the portal cached the first one's key set.
"""

import logging

import pytest
from joserfc.jwk import RSAKey

from hezo.models import User

from ..oidc.fixture import running_provider, signing_key
from .test_vzam import (  # noqa: F401 (fixtures: the portal with ``provider``)
    config_overrides,
    portal,
    sign_in_with_vzam,
)


@pytest.fixture
def provider(request, tmp_path):
    """This test's own provider (``request.param``: provider.mjs options)."""
    with running_provider(tmp_path, **getattr(request, "param", {})) as started:
        yield started


def refused_sign_in(page, base, login, lang="en", link="Sign in with V-ZAM"):
    """Sign in at V-ZAM as ``login``; the portal's answer to the callback."""
    with page.expect_response(lambda r: "/vzam/callback" in r.url) as answer:
        page.goto(f"{base}/{lang}/login")
        page.get_by_role("link", name=link).click()
        page.get_by_label("V-ZAM login").fill(login)
        page.get_by_role("button", name="Sign in to V-ZAM").click()
    page.wait_for_url("**/vzam/callback**")
    return answer.value


def assert_not_signed_in(page, base):
    page.goto(base + "/en/partner/")
    page.wait_for_url("**/en/login**")


# The provider's clock is 90 s behind and its ID tokens live 30 s: each has
# expired a minute before the portal gets it, past the 30 s skew the portal
# allows (Authlib's default of 120 s would have taken it).
@pytest.mark.parametrize(
    "provider", [{"clockOffsetSeconds": -90, "idTokenTtl": 30}], indirect=True
)
def test_an_expired_id_token_is_refused(desktop, portal, caplog):  # noqa: F811
    with caplog.at_level(logging.INFO, logger="hezo.security"):
        answer = refused_sign_in(
            desktop, portal, "anna.mfa", lang="pl", link="Zaloguj się przez V-ZAM"
        )
    assert answer.status == 400
    assert 'lang="pl"' in desktop.content()
    alert = desktop.get_by_role("alert").inner_text()
    assert "Nie udało się dokończyć logowania przez V-ZAM" in alert
    assert_not_signed_in(desktop, portal)
    assert User.select().count() == 0
    assert "event=vzam_refused" in caplog.text
    assert "reason=ExpiredTokenError" in caplog.text


def test_an_id_token_signed_with_another_key_is_refused(
    desktop,
    portal,  # noqa: F811
    provider,
    caplog,
):
    sign_in_with_vzam(desktop, portal, "anna.mfa")
    desktop.wait_for_url("**/en/partner/")  # the portal has V-ZAM's keys now
    desktop.context.clear_cookies()

    # Another key under the name (kid) of the one the portal holds: the
    # signature does not match the cached key set.
    provider.restart(
        RSAKey.generate_key(2048, {"kid": provider.key.kid, "alg": "RS256"})
    )
    with caplog.at_level(logging.INFO, logger="hezo.security"):
        answer = refused_sign_in(desktop, portal, "ewa.acr")
    assert answer.status == 400
    assert "could not be completed" in desktop.get_by_role("alert").inner_text()
    assert_not_signed_in(desktop, portal)
    assert not User.select().where(User.email.startswith("ewa.")).exists()
    assert "event=vzam_refused" in caplog.text
    assert "reason=BadSignatureError" in caplog.text

    # A key rotated the ordinary way (a new kid) is fetched from the JWKS and
    # taken: the refusal above was the signature's, not the restart's.
    provider.restart(signing_key())
    sign_in_with_vzam(desktop, portal, "ewa.acr")
    desktop.wait_for_url("**/en/partner/")
