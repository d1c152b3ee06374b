"""The frame of every page: the menu collapses on a phone and opens with its
button, marks the current page, shows who is signed in for which company,
keeps the language one tap away, and works without JavaScript."""

import pytest

from ..factories import make_company, make_contract, make_user
from .conftest import PHONE
from .helpers import assert_no_horizontal_scroll, open_menu, sign_in, sign_out


@pytest.fixture
def customer(dbconn):
    company = make_company("5260181596", "Żółw Sp. z o.o.")
    make_contract(customer=company, serials=("SN-1",))
    return make_user(company=company, language="en")


def current_links(page):
    return page.locator("#main-nav a[aria-current]").all_inner_texts()


def test_phone_menu_collapses_and_marks_the_current_page(phone, live_server, customer):
    page, base = phone, live_server
    sign_in(page, base, customer, landing="**/en/contracts/")
    assert page.get_by_role("link", name="Polski").is_visible()
    cases = page.get_by_role("link", name="Cases", exact=True)
    assert not cases.is_visible()
    open_menu(page)
    menu = page.get_by_role("button", name="Menu")
    assert menu.get_attribute("aria-expanded") == "true"
    assert current_links(page) == ["Contracts"]
    signed_in = page.get_by_test_id("signed-in").inner_text()
    assert customer.full_name in signed_in and "Żółw Sp. z o.o." in signed_in
    cases.click()
    page.wait_for_url("**/en/cases/")
    open_menu(page)
    assert current_links(page) == ["Cases"]
    assert page.locator("a[aria-current='page']").get_attribute("href") == "/en/cases/"
    assert_no_horizontal_scroll(page)
    sign_out(page)


def test_without_javascript_the_menu_is_open_and_every_link_works(
    browser, live_server, customer
):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(live_server + "/en/")
        assert not page.locator(".navbar-toggler").is_visible()
        page.locator("#main-nav").get_by_role("link", name="Sign in").click()
        page.wait_for_url("**/en/login")
        assert current_links(page) == ["Sign in"]
        sign_in(page, live_server, customer, landing="**/en/contracts/")
        page.get_by_role("link", name="Cases", exact=True).click()
        page.wait_for_url("**/en/cases/")
        assert current_links(page) == ["Cases"]
        page.get_by_role("link", name="Polski").click()
        page.wait_for_url("**/pl/cases/")
        page.get_by_role("button", name="Wyloguj się").click()
        page.wait_for_url("**/pl/")
    finally:
        context.close()
