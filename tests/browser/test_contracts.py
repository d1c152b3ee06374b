"""Journey 3 on a phone: search as you type, serials on demand, paging."""

import re

import pytest
from playwright.sync_api import expect

from hezo.models import Device

from ..factories import make_company, make_contract, make_user
from .helpers import assert_no_horizontal_scroll, sign_in

SEARCH_LABEL = "Search by serial number, contract number or product"


@pytest.fixture
def company(dbconn):
    return make_company("5260181596", "Przedsiębiorstwo Łączności Żółw Sp. z o.o.")


@pytest.fixture
def customer(company):
    return make_user(company=company, language="en")


def test_search_narrows_the_list_without_reload_and_serials_load_on_demand(
    phone, live_server, company, customer
):
    partner = make_company("7792433527", "Partner Sieciowy Sp. z o.o.")
    target = make_contract(
        customer=company,
        partner=partner,
        number="HZ-2025-000123",
        legacy_number="PW/2023/0456",
        serials=("1942Y-40125", "1942Y-40126"),
    )
    Device.update(product="ExtremeSwitching 5520-48W").where(
        Device.contract == target
    ).execute()
    make_contract(customer=company, number="HZ-2025-000124", serials=("AB-1",))
    make_contract(
        customer=company,
        number="HZ-2025-000125",
        serials=("CD-2",),
        service_code="PW-ONSITE-4H",
    )
    page = phone
    sign_in(page, live_server, customer, landing="**/en/contracts/")
    rows = page.get_by_test_id("contract-row")
    expect(rows).to_have_count(3)
    assert_no_horizontal_scroll(page)

    page.wait_for_function("window.htmx !== undefined")
    page.evaluate("window.__marker = 1")
    page.get_by_label(SEARCH_LABEL).press_sequentially("942y-4", delay=40)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("HZ-2025-000123")
    page.wait_for_url(re.compile(r"/en/contracts/\?q=942y-4$"))
    assert page.evaluate("window.__marker") == 1

    row = rows.first
    row.locator("summary").click()
    serials = row.get_by_test_id("serial-list")
    expect(serials).to_contain_text("1942Y-40126")
    expect(serials).to_contain_text("ExtremeSwitching 5520-48W")
    report = serials.get_by_role("link", name="Report a problem with 1942Y-40125")
    assert report.get_attribute("href") == (
        "/en/cases/new?contract=HZ-2025-000123&serial=1942Y-40125"
    )
    assert page.evaluate("window.__marker") == 1
    assert_no_horizontal_scroll(page)


def test_pager_moves_between_pages_without_reload(
    phone, live_server, company, customer
):
    for n in range(25):
        make_contract(customer=company, number=f"HZ-2026-{n:06d}")
    page = phone
    sign_in(page, live_server, customer, landing="**/en/contracts/")
    page.wait_for_function("window.htmx !== undefined")
    page.evaluate("window.__marker = 1")
    rows = page.get_by_test_id("contract-row")
    expect(rows).to_have_count(20)
    page.get_by_role("link", name="Next page").click()
    expect(rows).to_have_count(5)
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    page.wait_for_url("**/en/contracts/?page=2")
    assert page.evaluate("window.__marker") == 1
    assert_no_horizontal_scroll(page)
