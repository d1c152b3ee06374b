"""A customer on a 360 px phone marks a problem critical on a Saturday: the
note to call the help line appears under the severity without a reload, and
the focus stays on the choice the customer is on."""

from datetime import UTC, datetime

import pytest

from hezo.cases import views
from hezo.sla import WARSAW

from ..factories import make_company, make_contract, make_user
from .helpers import assert_no_horizontal_scroll, sign_in
from .test_accessibility import violations

PHONE_360 = {"width": 360, "height": 740}
SATURDAY = datetime(2026, 12, 5, 12, 0, tzinfo=WARSAW)


@pytest.fixture
def world(dbconn, monkeypatch):
    # The new-case view's clock only (the time it passes on), never a frozen one.
    monkeypatch.setattr(views, "utcnow", lambda: SATURDAY.astimezone(UTC))
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw")
    make_contract(customer=company, number="HZ-2026-000001", serials=("A-1",))
    make_contract(
        customer=company,
        number="HZ-2026-000002",
        serials=("B-1",),
        service_code="PW-TAC",
    )
    return {"customer": make_user(company=company, language="en")}


@pytest.fixture
def phone360(browser):
    context = browser.new_context(viewport=PHONE_360, locale="en-GB", is_mobile=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == []


def active_id(page) -> str:
    return page.evaluate("document.activeElement.id")


def test_critical_on_a_saturday_shows_the_help_line_without_taking_focus(
    phone360, live_server, world
):
    page, base = phone360, live_server
    sign_in(page, base, world["customer"], landing="**/en/contracts/")
    page.goto(base + "/en/cases/new")
    page.wait_for_load_state("load")  # htmx listens from here on
    window = page.get_by_test_id("request-window")
    assert "Mon–Fri 9:00–17:00 Warsaw time" in window.inner_text()
    assert page.get_by_test_id("call-now").count() == 0
    page.get_by_label("Subject").fill("Rdzeń sieci nie działa")

    with page.expect_response(lambda r: "fragment=window" in r.url):
        page.get_by_label("Critical — production is down").check()
    note = page.get_by_test_id("call-now")
    note.wait_for()
    assert active_id(page) == "severity-0"
    assert "7 Dec 2026, 09:00 Warsaw time" in note.inner_text()
    link = note.get_by_role("link", name="Call our help line: +48 12 25 25 600")
    assert link.get_attribute("href") == "tel:+48122525600"
    assert note.is_visible() and note.bounding_box()["width"] <= PHONE_360["width"]
    # Announced where it appears: its container is a live region.
    assert window.locator("xpath=..").get_attribute("aria-live") == "polite"
    assert_no_horizontal_scroll(page)

    # With the keyboard to "major": the note goes, the focus stays on the choice.
    with page.expect_response(lambda r: "fragment=window" in r.url):
        page.keyboard.press("ArrowDown")
    note.wait_for(state="detached")
    assert active_id(page) == "severity-1"
    page.keyboard.press("ArrowUp")
    note.wait_for()
    assert active_id(page) == "severity-0"

    # A 24x7 contract is answered now: no note; back to 8x5, the note again.
    contract = page.get_by_label("Contract")
    contract.focus()
    with page.expect_response(lambda r: "fragment=serials" in r.url):
        contract.select_option("HZ-2026-000002")
    note.wait_for(state="detached")
    assert "24 hours a day, 7 days a week" in window.inner_text()
    assert page.get_by_label("Serial number").input_value() == "B-1"
    assert active_id(page) == "contract"
    with page.expect_response(lambda r: "fragment=serials" in r.url):
        contract.select_option("HZ-2026-000001")
    note.wait_for()
    assert active_id(page) == "contract"
    assert page.get_by_label("Subject").input_value() == "Rdzeń sieci nie działa"


@pytest.mark.parametrize("lang", ["en", "pl"])
def test_the_call_now_note_passes_axe_at_360px(browser, live_server, world, lang):
    # The context bypasses the CSP only to inject axe (test_accessibility.py).
    context = browser.new_context(viewport=PHONE_360, bypass_csp=True, is_mobile=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, live_server, world["customer"], landing="**/en/contracts/")
        # The page without JavaScript's help: a plain GET names both.
        page.goto(
            f"{live_server}/{lang}/cases/new?contract=HZ-2026-000001&severity=critical"
        )
        page.get_by_test_id("call-now").wait_for()
        assert violations(page) == []
        assert_no_horizontal_scroll(page)
    finally:
        context.close()
