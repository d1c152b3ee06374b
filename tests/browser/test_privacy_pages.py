"""GDPR pages in a phone-size browser: the privacy page from the footer, a
copy of one's data, asking for erasure, and staff approving it; no WCAG
violation (axe) and no sideways scrolling on any of them."""

import pytest

from hezo.models import User

from ..factories import make_company, make_contract, make_user
from .conftest import PHONE
from .helpers import assert_no_horizontal_scroll, sign_in, sign_out
from .test_accessibility import AXE, violations


@pytest.fixture
def people(dbconn):
    company = make_company("5260181596", "Żółw Sp. z o.o.")
    make_contract(customer=company, serials=("SN-1",))
    return {
        "customer": make_user(company=company, language="en"),
        "engineer": make_user(role="engineer", language="en"),
    }


def check(page, found, tmp_path, name):
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    found += violations(page)


def test_privacy_journey_on_a_phone(browser, live_server, people, tmp_path):
    if not AXE.is_file():
        pytest.fail("axe-core missing: run scripts/setup test")
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    found = []
    try:
        page.goto(live_server + "/pl/")
        page.get_by_role("link", name="Prywatność i Twoje dane").click()
        page.wait_for_url("**/pl/privacy/")
        check(page, found, tmp_path, "privacy-pl")

        sign_in(page, live_server, people["customer"], landing="**/en/contracts/")
        page.goto(live_server + "/en/privacy/")
        page.get_by_role("link", name="Download your data or ask for erasure").click()
        page.get_by_role("button", name="Prepare a copy of my data").click()
        page.get_by_text("Your copy is ready to download.").wait_for()
        check(page, found, tmp_path, "mine-ready")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download your data (ZIP)").click()
        assert download.value.suggested_filename.endswith(".zip")

        page.get_by_role("button", name="Ask for erasure").click()
        page.wait_for_selector("[data-testid=error-summary]")
        check(page, found, tmp_path, "mine-error")
        page.get_by_label("I understand that my account will be closed").check()
        page.get_by_role("button", name="Ask for erasure").click()
        page.get_by_text("Your request has been sent.").wait_for()
        sign_out(page)

        sign_in(page, live_server, people["engineer"], landing="**/en/staff/**")
        page.goto(live_server + "/en/privacy/requests")
        check(page, found, tmp_path, "requests")
        page.get_by_role("button", name="Approve and erase").click()
        page.get_by_text("The account has been erased.").wait_for()
        check(page, found, tmp_path, "requests-done")
    finally:
        context.close()
    assert found == []
    assert User.get_by_id(people["customer"].id).erased_at is not None
