"""Partners sign in with V-ZAM in Chromium, against the real test provider.

The portal is served on the port registered at the provider as the client's
redirect URI (``oidc_provider.redirect_port``).
"""

import time

import pyotp
import pytest

from hezo.models import ExternalIdentity, User

from ..factories import make_company, make_contract
from ..oidc.fixture import PARTNER_NIP, UNKNOWN_NIP
from .conftest import serving


@pytest.fixture
def provider(oidc_provider):
    """The provider the portal is configured with (a module may start its own)."""
    return oidc_provider


@pytest.fixture
def config_overrides(provider):
    return {
        "SESSION_COOKIE_SECURE": False,
        "SESSION_COOKIE_NAME": "hezo_session",
    } | provider.app_config()


@pytest.fixture
def portal(app, dbconn, provider):
    company = make_company(nip=PARTNER_NIP, name="Partner Sieci")
    make_contract(partner=company)
    with serving(app, provider.redirect_port) as base:
        yield base


def sign_in_with_vzam(page, base, login):
    page.goto(base + "/en/login")
    page.get_by_role("link", name="Sign in with V-ZAM").click()
    page.get_by_label("V-ZAM login").fill(login)
    page.get_by_role("button", name="Sign in to V-ZAM").click()


def sign_out_everywhere(page, base):
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign out of V-ZAM").click()
    page.wait_for_url(base + "/en/")


def test_first_sign_in_and_return_visit(desktop, portal):
    sign_in_with_vzam(desktop, portal, "anna.mfa")
    desktop.wait_for_url("**/en/partner/")  # V-ZAM asserted MFA: no code here
    assert "Partner Sieci" in desktop.content()
    sign_out_everywhere(desktop, portal)
    desktop.goto(portal + "/en/partner/")
    desktop.wait_for_url("**/en/login**")

    # V-ZAM's session ended too: it asks again, and the same account opens.
    sign_in_with_vzam(desktop, portal, "anna.mfa")
    desktop.wait_for_url("**/en/partner/")
    assert User.select().count() == 1 and ExternalIdentity.select().count() == 1


def test_without_mfa_our_authenticator_is_enrolled_then_asked(desktop, portal):
    sign_in_with_vzam(desktop, portal, "bartek.pwd")
    desktop.wait_for_url("**/en/setup/authenticator")
    key = desktop.get_by_test_id("totp-key").inner_text().replace(" ", "")
    totp = pyotp.TOTP(key)
    desktop.get_by_label("Code").fill(totp.now())
    desktop.get_by_role("button", name="Confirm").click()
    codes = desktop.get_by_test_id("recovery-codes")
    codes.wait_for()  # the page after "Confirm" (locator.all() does not wait)
    assert len(codes.locator("code").all()) == 10
    desktop.goto(portal + "/en/partner/")
    assert desktop.url.endswith("/en/partner/")
    sign_out_everywhere(desktop, portal)

    sign_in_with_vzam(desktop, portal, "bartek.pwd")
    desktop.wait_for_url("**/en/login/code**")
    desktop.get_by_label("Code").fill(totp.at(time.time() + 30))  # a new step
    desktop.get_by_role("button", name="Sign in").click()
    desktop.wait_for_url("**/en/partner/")


def test_a_user_of_an_unknown_company_is_refused(desktop, portal):
    sign_in_with_vzam(desktop, portal, "celina.unknown")
    desktop.wait_for_url("**/vzam/callback**")
    alert = desktop.get_by_role("alert").inner_text()
    assert f"NIP {UNKNOWN_NIP}" in alert and "not a myHEZO partner" in alert
    desktop.goto(portal + "/en/partner/")
    desktop.wait_for_url("**/en/login**")
    assert User.select().count() == 0


def test_a_tampered_state_is_refused(desktop, portal, oidc_provider):
    """The ``state`` the provider sends back is not the one the portal made
    (changed on the way: in the portal's redirect, so that the provider
    itself echoes the changed value)."""

    def tamper(route):
        answer = route.fetch(max_redirects=0)
        location = answer.headers["location"]
        route.fulfill(
            response=answer,
            headers=answer.headers
            | {"location": location.replace("state=", "state=x")},
        )

    desktop.route("**/en/login/vzam", tamper)
    sign_in_with_vzam(desktop, portal, "anna.mfa")
    desktop.wait_for_url("**/vzam/callback?*state=x*")
    assert "could not be completed" in desktop.get_by_role("alert").inner_text()
    desktop.goto(portal + "/en/partner/")
    desktop.wait_for_url("**/en/login**")
    assert User.select().count() == 0
