"""Assertions shared by the browser journeys."""


def assert_no_horizontal_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def sign_in(page, base, user, landing="**/en/**"):
    """Sign in through the English forms: password, then a fresh TOTP code."""
    from ..factories import PASSWORD, fresh_code

    page.goto(base + "/en/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/en/login/code**")
    page.get_by_label("Code").fill(fresh_code(user))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(landing)


def open_menu(page):
    """On a phone the main menu is collapsed behind its "Menu" button."""
    toggle = page.locator(".navbar-toggler")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
        page.locator("#main-nav.show").wait_for()


def sign_out(page):
    open_menu(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/en/")
