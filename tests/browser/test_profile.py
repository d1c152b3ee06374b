"""A 360 px phone: the account page's details are edited and saved, a bad
phone number is shown at its field, and a case's watchers are chosen."""

import pytest

from hezo.models import AuditEvent, CaseWatcher, User

from ..factories import make_user
from ..test_staff import make_world, new_case
from .helpers import assert_no_horizontal_scroll, sign_in

PHONE_360 = {"width": 360, "height": 740}


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE_360, locale="en-GB", is_mobile=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def world(dbconn):
    world = make_world()
    world["colleague"] = make_user(company=world["company"], position="Sieci")
    return world


def test_profile_is_edited_on_a_360px_phone(phone, live_server, world):
    page, base, user = phone, live_server, world["customer"]
    sign_in(page, base, user, landing="**/en/contracts/")
    page.goto(base + "/en/account")
    assert_no_horizontal_scroll(page)
    form = page.locator("#profile")
    form.get_by_label("Phone").fill("12ab")
    form.get_by_role("button", name="Save the details").click()
    page.locator("#profile .field-error, #profile .invalid-feedback").first.wait_for()
    assert_no_horizontal_scroll(page)
    form = page.locator("#profile")
    form.get_by_label("First name").fill("Agnieszka")
    form.get_by_label("Phone").fill("+48 600 700 800")
    form.get_by_label("Role in your company").fill("Network administrator")
    form.get_by_label("Language of our e-mails").select_option("en")
    form.get_by_role("button", name="Save the details").click()
    page.get_by_text("Your details have been saved.").wait_for()
    saved = User.get_by_id(user.id)
    assert (saved.first_name, saved.phone, saved.position, saved.language) == (
        "Agnieszka",
        "+48 600 700 800",
        "Network administrator",
        "en",
    )
    assert (
        AuditEvent.select().where(AuditEvent.action == "profile_changed").count() == 4
    )
    page.get_by_role("link", name="Colleagues with portal accounts").click()
    page.get_by_text(world["colleague"].full_name).wait_for()
    assert_no_horizontal_scroll(page)


def test_a_watcher_is_added_on_the_case_page(phone, live_server, world):
    page, base = phone, live_server
    case = new_case(world)
    sign_in(page, base, world["customer"], landing="**/en/contracts/")
    page.goto(base + f"/en/cases/{case.number}")
    section = page.locator("#watchers")
    section.get_by_label("Colleague to add").select_option(str(world["colleague"].id))
    section.get_by_role("button", name="Add as a watcher").click()
    page.locator("#watchers").get_by_role(
        "button", name=f"Remove {world['colleague'].full_name}"
    ).wait_for()
    assert CaseWatcher.select().count() == 1
    assert_no_horizontal_scroll(page)
