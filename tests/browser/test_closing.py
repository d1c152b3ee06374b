"""Closing the loop on a phone (360 px): the customer confirms an engineer's
resolution, the summary, stepper and history follow without a reload, the
focus moves to the satisfaction question, the customer answers it; the one
live region says each step, and axe finds no violation in any of the states."""

from hezo.cases.workflow import transition
from hezo.db import utcnow
from hezo.models import CaseSatisfaction

from .helpers import sign_in
from .page_states import SETTLED
from .test_accessibility import violations, world  # noqa: F401 (a fixture)
from .test_case_page import NARROW, active, assert_settled, current_step, new_page


def test_customer_confirms_the_resolution_and_answers_the_question(
    browser,
    live_server,
    world,  # noqa: F811 (the fixture imported above)
):
    case = world["case"]
    transition(case, world["engineer"], "resolved", utcnow())
    context, page, errors = new_page(browser, NARROW)
    try:
        sign_in(page, live_server, world["customer"], landing="**/en/contracts/")
        page.goto(f"{live_server}/en/cases/{case.number}")
        closing = page.locator("#closing")
        assert closing.get_by_role("button", name="Reopen the case").is_visible()
        assert current_step(page) == "resolved"
        assert violations(page) == []  # the resolved state: confirm or reopen

        page.evaluate("window.__noReload = true")
        closing.get_by_role("button", name="Confirm and close the case").click()
        page.locator("#case-summary [data-status=closed]").wait_for()
        page.wait_for_function(SETTLED)
        assert current_step(page) == "closed"
        assert "resolution confirmed by the customer" in (
            page.locator("#history").inner_text()
        )
        assert page.locator("#case-live").inner_text() == (
            "The case is closed. Thank you for confirming. Status changed to closed"
        )
        # The question comes next: the focus is on its heading.
        assert active(page)["id"] == "satisfaction-title"
        assert_settled(page)  # the closed state with the question

        page.get_by_label("4 — satisfied").check()
        page.get_by_label("Comment (optional)").fill("Quick and clear.")
        page.get_by_role("button", name="Send the answer").click()
        page.locator("[data-testid=satisfaction-answer]").wait_for()
        page.wait_for_function(SETTLED)
        assert "4 of 5" in page.locator("#satisfaction").inner_text()
        assert page.locator("#case-live").inner_text() == "Thank you for your answer."
        assert active(page)["id"] == "satisfaction-title"
        assert_settled(page)  # the answered state
    finally:
        context.close()
    assert errors == []
    [kept] = CaseSatisfaction.select()
    assert (kept.rating, kept.comment) == (4, "Quick and clear.")
