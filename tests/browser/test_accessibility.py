"""axe-core (npm, a dev dependency) with the WCAG 2.2 A/AA rules on the
portal's pages at phone and desktop width, in both languages: 0 violations.

axe is injected into the page by the test, so the context bypasses the CSP
for that one script; the pages themselves load nothing inline."""

from pathlib import Path

import pytest

from hezo.cases.services import open_case
from hezo.db import utcnow
from hezo.models import Device

from ..factories import make_company, make_contract, make_user
from .conftest import DESKTOP, PHONE
from .helpers import sign_in

AXE = Path(__file__).parents[2] / "node_modules/axe-core/axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
def world(dbconn):
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", "Żółw Sp. z o.o.")
    contract = make_contract(
        customer=company, partner=partner, service_code="PW-AHR-4H", serials=("SN-1",)
    )
    customer = make_user(company=company, language="en")
    case = open_case(
        actor=customer,
        contract=contract,
        device=Device.get(Device.contract == contract),
        subject="Core switch reboots",
        description="Since the update.",
        severity="critical",
        contact_phone="",
        share_with=partner,
        files=[],
        now=utcnow(),
    )
    return {
        "customer": customer,
        "engineer": make_user(role="engineer", language="en"),
        "case": case,
    }


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        f"{page.url} {v['id']}: {n['target']} {n.get('failureSummary', '')}"
        for v in result["violations"]
        for n in v["nodes"]
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_state_has_no_wcag_violation(browser, live_server, world, viewport):
    if not AXE.is_file():
        pytest.fail("axe-core missing: run scripts/setup test")
    context = browser.new_context(viewport=viewport, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    found = []
    try:
        for path in ("/pl/", "/en/", "/en/login", "/pl/register", "/en/contact"):
            page.goto(live_server + path)
            found += violations(page)
        page.goto(live_server + "/en/contact")
        page.get_by_role("button", name="Send").click()  # the error summary
        page.wait_for_selector("[data-testid=error-summary]")
        found += violations(page)

        number = world["case"].number
        sign_in(page, live_server, world["customer"], landing="**/en/contracts/")
        for path in (
            "/en/contracts/",
            "/en/cases/",
            f"/en/cases/{number}",
            "/en/cases/new",
            "/en/account",
            "/pl/cases/",
        ):
            page.goto(live_server + path)
            found += violations(page)
        context.clear_cookies()
        sign_in(page, live_server, world["engineer"], landing="**/en/staff/**")
        for path in ("/en/staff/", f"/en/cases/{number}", "/en/staff/accounts"):
            page.goto(live_server + path)
            found += violations(page)
    finally:
        context.close()
    assert found == []
