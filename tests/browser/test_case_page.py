"""The case page at 360 px and 1366 px: the summary and the stepper follow an
engineer's status change without a reload (and a customer's page learns it
from the thread's poll), focus lands where the user continues, the one live
region says what changed, relative times keep counting, nothing scrolls
sideways, and axe finds no WCAG violation."""

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from hezo.cases.workflow import transition
from hezo.db import utcnow
from hezo.models import SupportCase

from .helpers import assert_no_horizontal_scroll, sign_in
from .test_accessibility import violations, world  # noqa: F401 (a fixture)

NARROW = {"width": 360, "height": 780}
WIDE = {"width": 1366, "height": 900}
WIDTHS = pytest.mark.parametrize("viewport", [NARROW, WIDE], ids=["360", "1366"])


@pytest.fixture
def people(world):  # noqa: F811 (the fixture imported above)
    """test_accessibility's customer, engineer and critical 4-hour case."""
    return world


def new_page(browser, viewport):
    # bypass_csp: axe is injected by the test (the page loads nothing inline).
    context = browser.new_context(
        viewport=viewport,
        locale="en-GB",
        is_mobile=viewport is NARROW,
        bypass_csp=True,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def active(page) -> dict:
    return page.evaluate(
        "() => ({id: document.activeElement.id, tag: document.activeElement.tagName,"
        " text: document.activeElement.textContent.trim().slice(0, 60)})"
    )


def focus_lands_on(page, element_id: str) -> bool:
    """True once focus is on ``element_id``: htmx moves it to the answer's
    ``autofocus`` element when the swap settles, a moment after the swapped
    content is visible (waits up to 5 s for that moment)."""
    try:
        page.wait_for_function(
            "id => document.activeElement && document.activeElement.id === id",
            arg=element_id,
            timeout=5000,
        )
    except PlaywrightTimeout:
        return False
    return True


def assert_settled(page):
    """Still the page first loaded, nothing wider than the screen, and axe
    finds no WCAG violation."""
    assert page.evaluate("window.__noReload") is True
    assert_no_horizontal_scroll(page)
    assert violations(page) == []


def current_step(page) -> str:
    return page.locator("#case-steps [aria-current=step] .step-name").inner_text()


@WIDTHS
def test_engineer_changes_the_status_and_the_page_follows(
    browser, live_server, people, viewport
):
    context, page, errors = new_page(browser, viewport)
    number = people["case"].number
    try:
        sign_in(page, live_server, people["engineer"], landing="**/en/staff/**")
        page.goto(f"{live_server}/en/cases/{number}")
        summary = page.locator("#case-summary")
        assert summary.locator("[data-status=new]").is_visible()
        assert "First response due" in summary.inner_text()
        assert "Warsaw time" in summary.inner_text()
        assert "24x7" in summary.inner_text()
        assert current_step(page) == "new"
        assert_no_horizontal_scroll(page)
        assert violations(page) == []

        page.evaluate("window.__noReload = true")
        # The first answer stops the response clock: the summary says so at once.
        page.get_by_label("Your message").fill("Please send the output of show log.")
        page.get_by_role("button", name="Send").click()
        page.locator("#thread").get_by_text("show log").wait_for()
        summary.get_by_text("First response", exact=True).wait_for()
        assert "First response due" not in summary.inner_text()
        assert page.locator("#case-live").inner_text() == "Message sent"
        assert "engineer" in page.locator("#thread .message .role").last.text_content()
        for status, word in (
            ("in_verification", "in verification"),
            ("validated", "replacement approved"),
        ):
            page.get_by_label("New status").select_option(status)
            page.get_by_role("button", name="Change the status").click()
            summary.locator(f"[data-status={status}]").wait_for()
            assert current_step(page) == word
            assert page.locator("#case-live").inner_text() == (
                f"Status changed to {word}"
            )
            assert word in page.locator("#history").inner_text()
            # Focus on the panel's heading: the engineer goes on from there.
            assert focus_lands_on(page, "staff-title"), active(page)
        assert "Replacement delivery due" in summary.inner_text()
        assert page.locator("#case-steps .step-done").count() == 2
        assert_settled(page)
    finally:
        context.close()
    assert errors == []


@WIDTHS
def test_customer_replies_and_sees_the_engineers_change_by_the_poll(
    browser, live_server, people, viewport
):
    context, page, errors = new_page(browser, viewport)
    case = people["case"]
    try:
        sign_in(page, live_server, people["customer"], landing="**/en/contracts/")
        page.clock.install()
        page.goto(f"{live_server}/en/cases/{case.number}")
        props = page.locator("details.case-props")
        # Beside the page on a desktop, folded on a phone (once the delivery
        # address it holds is given: open while the customer still owes it).
        assert props.evaluate("d => d.open") is True
        SupportCase.update(site_address="ul. Długa 1, Kraków").where(
            SupportCase.id == case.id
        ).execute()
        page.reload()
        assert props.evaluate("d => d.open") is (viewport is WIDE)
        assert_no_horizontal_scroll(page)
        assert violations(page) == []

        page.evaluate("window.__noReload = true")
        page.get_by_label("Your message").fill("Still rebooting, log attached.")
        page.get_by_role("button", name="Send").click()
        message = page.locator("#thread .message").last
        message.get_by_text("Still rebooting").wait_for()
        assert "customer" in message.locator(".role").text_content()
        assert page.locator("#case-live").inner_text() == "Message sent"
        # Focus back in the emptied reply box: the customer goes on writing.
        assert focus_lands_on(page, "body"), active(page)
        assert page.get_by_label("Your message").input_value() == ""

        # The relative times keep counting without a reload.
        when = message.locator("time[data-relative]")
        before = when.inner_text()
        page.clock.fast_forward("05:00")
        page.wait_for_function(
            "t => document.querySelector('#thread .message:last-child"
            " time[data-relative]').textContent !== t",
            arg=before,
        )
        assert "min ago" in when.inner_text()

        # An engineer moves the case: the next poll brings the summary as well.
        engineer = people["engineer"]
        fresh = SupportCase.get_by_id(case.id)
        transition(fresh, engineer, "waiting_for_customer", utcnow())
        changed = page.locator("#case-summary [data-status=waiting_for_customer]")
        # A poll still on its way when the engineer moved (a loaded machine)
        # answers with the old state, and htmx drops a tick while one is in
        # flight: the change comes with one of the next polls, never a reload.
        for _tick in range(4):
            page.clock.fast_forward("00:31")
            try:
                changed.wait_for(timeout=5000)
                break
            except PlaywrightTimeout:
                continue
        assert changed.is_visible()
        summary = page.locator("#case-summary").inner_text()
        assert "Clock stopped — waiting for your answer" in summary
        assert "An engineer is waiting for your answer." in summary
        assert page.locator("#case-live").inner_text() == (
            "Status changed to waiting for the customer"
        )
        assert "waiting for the customer" in page.locator("#history").inner_text()
        assert_settled(page)
    finally:
        context.close()
    assert errors == []


@pytest.mark.parametrize("width", [390, 412])
def test_polish_facts_fit_a_phone_of_today(browser, live_server, people, width):
    """At 390 and 412 px (most phones now), the Polish labels ("Okno
    przyjmowania zgłoszeń") left the values a column a word wide: the
    relative time stuck out of the card and the page scrolled sideways.
    Every value of the case page's label/value lists gets at least half the
    list's width, inside its card."""
    viewport = {"width": width, "height": 860}
    context = browser.new_context(viewport=viewport, locale="pl-PL", is_mobile=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, live_server, people["customer"])
        page.goto(f"{live_server}/pl/cases/{people['case'].number}")
        summary = page.locator("#case-summary").inner_text()
        assert "Okno przyjmowania zgłoszeń" in summary
        assert_no_horizontal_scroll(page)
        squeezed = page.evaluate(
            """() => [...document.querySelectorAll('.facts dd')]
                 .filter(dd => dd.getClientRects().length)
                 .map(dd => {
                   const list = dd.closest('dl').getBoundingClientRect();
                   const box = dd.getBoundingClientRect();
                   return {text: dd.innerText.slice(0, 40), width: box.width,
                           list: list.width, right: box.right, end: list.right,
                           inside: [...dd.querySelectorAll('*')].every(
                             e => e.getBoundingClientRect().right <= list.right + 1)};
                 })
                 .filter(f => f.width < f.list / 2 || f.right > f.end + 1
                              || !f.inside)"""
        )
        assert squeezed == []
    finally:
        context.close()
