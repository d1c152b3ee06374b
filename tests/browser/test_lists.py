"""The case and contract lists and the engineers' queue in Chromium at 320,
360 and 1366 px: no sideways scroll with long unbroken words, each row headed
by its subject or contract number on a phone, identifiers never broken, the
queue's refresh leaving the engineer's focus alone and telling what it brought,
and axe-core's WCAG 2.2 A/AA rules with 0 violations."""

import os
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from hezo.cases.services import open_case
from hezo.db import utcnow
from hezo.models import Device, SupportCase

from ..factories import make_company, make_contract, make_user
from .helpers import assert_no_horizontal_scroll, sign_in
from .test_accessibility import AXE, violations

SUBJECT = "Awaria" * 20  # 120 characters without a break
COMPANY = "Żółw" * 30
NARROW = {"width": 320, "height": 640}
PHONE_360 = {"width": 360, "height": 780}
WIDE = {"width": 1366, "height": 900}
SHOTS = os.environ.get("HEZO_SHOTS")  # a folder: save what the tests looked at


@pytest.fixture
def world(dbconn):
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", COMPANY)
    contract = make_contract(
        customer=company,
        partner=partner,
        number="HZ-2025-000123",
        legacy_number="PW/2023/0456",
        service_code="PW-AHR-4H",
        serials=("1942Y-40125", "1942Y-40126"),
    )
    customer = make_user(company=company, language="en")
    now = utcnow()
    cases = [
        report(customer, contract, SUBJECT, "critical"),
        report(customer, contract, "Zasilacz piszczy", "major"),
        report(customer, contract, "Port 12 nie działa", "minor"),
    ]
    for case, due in zip(cases, (-25, 10, 40), strict=True):
        SupportCase.update(next_due_at=now + timedelta(minutes=due)).where(
            SupportCase.id == case.id
        ).execute()
    return {
        "customer": customer,
        "contract": contract,
        "engineer": make_user(role="engineer", language="en"),
        "cases": cases,
    }


def report(customer, contract, subject, severity):
    return open_case(
        actor=customer,
        contract=contract,
        device=Device.get(Device.contract == contract),
        subject=subject,
        description="Od aktualizacji.",
        severity=severity,
        contact_phone="",
        share_with=None,
        files=[],
        now=utcnow(),
    )


@pytest.fixture
def open_page(browser):
    contexts = []

    def opened(viewport, **options):
        context = browser.new_context(
            viewport=viewport, is_mobile=viewport["width"] < 576, **options
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        return page

    yield opened
    for context in contexts:
        for page in context.pages:
            assert page.js_errors == []
        context.close()


def shot(page, name):
    if SHOTS:
        width = page.viewport_size["width"]
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)


def open_filters(page):
    """On a phone the queue's filters fold behind their "Filters" button."""
    toggle = page.locator(".filter-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
        page.locator("#queue-filters.show").wait_for()


def test_lists_never_scroll_sideways_at_320px(open_page, live_server, world):
    page = open_page(NARROW)
    sign_in(page, live_server, world["customer"], landing="**/en/contracts/")
    for path in ("/en/cases/", "/en/contracts/", "/en/cases/?q=nothing-like-it"):
        page.goto(live_server + path)
        assert_no_horizontal_scroll(page)
    page.goto(live_server + "/en/contracts/")
    page.locator("details.serials summary").click()
    page.get_by_text("1942Y-40126").wait_for()
    assert_no_horizontal_scroll(page)
    page.context.clear_cookies()
    sign_in(page, live_server, world["engineer"], landing="**/en/staff/**")
    for path in ("/en/staff/", "/en/cases/", "/pl/staff/"):
        page.goto(live_server + path)
        expect(page.get_by_text(SUBJECT).first).to_be_visible()
        assert_no_horizontal_scroll(page)
        shot(page, path.strip("/").replace("/", "-"))
    open_filters(page)
    assert_no_horizontal_scroll(page)


UNBROKEN = """() => {
  const broken = [];
  const words = '.ident, table .badge, .counts .badge, .site-header .nav-link';
  for (const el of document.querySelectorAll(words)) {
    const range = document.createRange();
    range.selectNodeContents(el);
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.bottom)));
    if (el.textContent.length <= 24 && lines.size > 1) broken.push(el.textContent);
  }
  return broken;
}"""

HEADLINE_FIRST = """(row) => {
  const top = row.querySelector('.row-headline').getBoundingClientRect().top;
  return [...row.querySelectorAll('td')].every(
    (cell) => cell.getBoundingClientRect().top > top + 1);
}"""


@pytest.mark.parametrize("viewport", [PHONE_360, WIDE], ids=["360", "1366"])
def test_rows_are_headed_by_subject_or_number_and_identifiers_stay_whole(
    open_page, live_server, world, viewport
):
    page = open_page(viewport)
    phone = viewport is PHONE_360
    sign_in(page, live_server, world["customer"], landing="**/en/contracts/")
    for path, testid in (
        ("/en/cases/", "case-row"),
        ("/en/contracts/", "contract-row"),
    ):
        page.goto(live_server + path)
        row = page.get_by_test_id(testid).first
        # On a phone the headline is the card's first line; on a desktop the
        # row is a table row, its cells side by side.
        assert row.evaluate(HEADLINE_FIRST) is phone
        assert page.evaluate(UNBROKEN) == []
        assert (page.locator("thead").first.bounding_box()["x"] < 0) is phone
        shot(page, path.strip("/").replace("/", "-") + "-customer")
    page.context.clear_cookies()
    sign_in(page, live_server, world["engineer"], landing="**/en/staff/**")
    assert page.evaluate(UNBROKEN) == []
    breached = page.locator("tr.due-breached .badge[data-due=breached]")
    soon = page.locator("tr.due-due_soon .badge[data-due=due_soon]")
    expect(breached).to_have_text("breached")
    expect(soon).to_have_text("due soon")
    # Marked by a sign and a border besides the colour.
    sign = "el => getComputedStyle(el, '::before').content"
    assert "\u26a0" in breached.evaluate(sign) and "\u25d4" in soon.evaluate(sign)
    border = (
        "el => { const row = el.closest('tr');"
        " const box = getComputedStyle(row).borderLeftWidth === '0px'"
        " ? row.firstElementChild : row;"
        " const s = getComputedStyle(box);"
        " return [s.borderLeftStyle, parseFloat(s.borderLeftWidth)]; }"
    )
    assert breached.evaluate(border)[0] == "solid"
    assert soon.evaluate(border)[0] == "dashed"
    assert breached.evaluate(border)[1] >= 4
    expect(page.get_by_test_id("queue-row").first).to_contain_text("min ago · by ")
    shot(page, "staff")


def test_queue_refresh_waits_while_the_engineer_works_and_tells_what_is_new(
    open_page, live_server, world
):
    page = open_page(WIDE)
    page.clock.install()
    sign_in(page, live_server, world["engineer"], landing="**/en/staff/**")
    page.wait_for_function("window.htmx !== undefined")
    rows = page.get_by_test_id("queue-row")
    expect(rows).to_have_count(3)
    news = page.locator("#queue-news")
    refreshed = []
    page.on(
        "request",
        lambda r: refreshed.append(r.url) if r.headers.get("hx-request") else None,
    )

    # In the filter bar: the search box, half typed (not yet sent).
    search = page.locator("#f-q")
    search.focus()
    page.evaluate("document.activeElement.dataset.mark = 'here'")
    report(world["customer"], world["contract"], "Nowa awaria", "major")
    page.clock.fast_forward("00:31")
    page.wait_for_timeout(700)
    assert page.evaluate("document.activeElement.dataset.mark") == "here"
    assert refreshed == []

    # On a row's link inside the list.
    link = rows.first.get_by_role("link")
    link.focus()
    page.evaluate("document.activeElement.dataset.mark = 'row'")
    page.clock.fast_forward("00:31")
    page.wait_for_timeout(700)
    assert page.evaluate("document.activeElement.dataset.mark") == "row"
    assert refreshed == [] and rows.count() == 3

    # Out of the queue: the refresh comes, and says what it brought.
    page.evaluate("document.activeElement.blur()")
    page.mouse.move(1, 1)
    SupportCase.update(severity="minor").where(
        SupportCase.id == world["cases"][0].id
    ).execute()
    page.clock.fast_forward("00:31")
    expect(rows).to_have_count(4)
    expect(news).to_have_text("New cases: 1, changed: 1")
    assert len(refreshed) == 1
    assert page.locator("tr.is-new").get_by_role("link").inner_text() == "Nowa awaria"
    assert page.locator("#queue [aria-live], #queue-news time").count() == 0
    assert page.locator("#queue").get_attribute("aria-live") is None

    # A filter is a new list, not news.
    page.locator("#f-severity").select_option("major")
    expect(rows).to_have_count(2)
    page.wait_for_url("**/en/staff/?*severity=major*")
    expect(news).to_have_text("New cases: 1, changed: 1")  # unchanged


@pytest.mark.parametrize("viewport", [PHONE_360, WIDE], ids=["360", "1366"])
def test_lists_have_no_wcag_violation(open_page, live_server, world, viewport):
    if not AXE.is_file():
        pytest.fail("axe-core missing: run scripts/setup test")
    page = open_page(viewport, bypass_csp=True)
    found = []
    sign_in(page, live_server, world["customer"], landing="**/en/contracts/")
    for path in (
        "/en/cases/",
        "/en/cases/?q=nothing-like-it",
        "/en/contracts/",
        "/en/contracts/?q=nothing-like-it",
        "/pl/cases/",
    ):
        page.goto(live_server + path)
        found += violations(page)
    page.context.clear_cookies()
    sign_in(page, live_server, world["engineer"], landing="**/en/staff/**")
    for path in ("/en/staff/", "/en/staff/?severity=major&q=zzz", "/pl/staff/"):
        page.goto(live_server + path)
        open_filters(page)
        found += violations(page)
    assert found == []


def test_queue_filters_show_open_without_javascript(open_page, live_server, world):
    page = open_page(PHONE_360)
    sign_in(page, live_server, world["engineer"], landing="**/en/staff/**")
    page.goto(live_server + "/en/staff/")
    expect(page.locator("#queue-filters")).to_be_hidden()  # folded on a phone
    expect(page.get_by_role("button", name="Filters")).to_be_visible()
    cookies = page.context.cookies()
    plain = open_page(PHONE_360, java_script_enabled=False)
    plain.context.add_cookies(cookies)
    plain.goto(live_server + "/en/staff/")
    expect(plain.get_by_label("Severity")).to_be_visible()
    expect(plain.get_by_role("button", name="Filters")).to_be_hidden()
    plain.get_by_label("Severity").select_option("critical")
    plain.get_by_role("button", name="Filter").click()
    plain.wait_for_url("**/en/staff/?*severity=critical*")
    expect(plain.get_by_test_id("queue-row")).to_have_count(1)
    assert_no_horizontal_scroll(plain)
