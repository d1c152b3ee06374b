"""A phone: an administrator invites an engineer, disables and enables
the account from its page, and changes the help line, which the footer then
shows; every step audited."""

import pytest

from hezo.models import AuditEvent, OutboxMessage, User

from ..factories import make_company, make_user
from .helpers import assert_no_horizontal_scroll, sign_in


@pytest.fixture
def admin(dbconn):
    make_company("1860913901", "NetPartner S.A.")
    return make_user(role="admin", company=None, email="admin@example.pl")


def actions():
    return [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]


def test_people_and_settings_from_the_browser(phone, live_server, admin):
    page, base = phone, live_server  # the shared 360 px phone (conftest)
    sign_in(page, base, admin)
    page.goto(base + "/en/admin/people/invite")
    form = page.locator("main form[method=post]")
    form.get_by_label("Role").select_option("partner")
    form.get_by_label("First and last name").fill("Ola Nowak")
    form.get_by_label("E-mail").fill("ola@netpartner.example.pl")
    form.get_by_role("button", name="Send the invitation").click()
    page.locator(".field-error").first.wait_for()  # no NIP for a partner
    assert "No company with this NIP" in page.content()
    assert_no_horizontal_scroll(page)
    form = page.locator("main form[method=post]")
    form.get_by_label("Partner company's tax ID").fill("186-091-39-01")
    form.get_by_role("button", name="Send the invitation").click()
    page.get_by_text("The invitation was sent to ola@netpartner.example.pl.").wait_for()
    person = User.get(User.email == "ola@netpartner.example.pl")
    assert OutboxMessage.select().where(OutboxMessage.recipient == person.email).count()

    page.get_by_role("button", name="Disable the account").click()
    page.get_by_text("The account is disabled.").wait_for()
    page.get_by_role("button", name="Enable the account").click()
    page.get_by_text("The account is enabled.").wait_for()
    assert User.get_by_id(person.id).is_enabled

    page.goto(base + "/en/admin/people?state=invited")
    page.get_by_role("link", name="Ola Nowak").wait_for()
    assert_no_horizontal_scroll(page)

    page.goto(base + "/en/admin/settings")
    page.get_by_label("Help line phone").fill("22 333 44 55")
    page.get_by_role("button", name="Save the settings").click()
    page.locator(".field-error").first.wait_for()
    page.get_by_label("Help line phone").fill("+48 22 333 44 55")
    page.get_by_role("button", name="Save the settings").click()
    page.get_by_text("The settings are saved").wait_for()
    assert page.locator('footer a[href="tel:+48223334455"]').count() == 1
    assert_no_horizontal_scroll(page)
    assert [a for a in actions() if a != "login"] == [
        "account_invited",
        "account_disabled",
        "account_enabled",
        "setting_changed",
    ]
