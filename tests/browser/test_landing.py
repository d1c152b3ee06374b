from .helpers import assert_no_horizontal_scroll


def test_landing_page_in_polish_then_english_by_the_switch(phone, live_server):
    phone.goto(live_server + "/")
    assert phone.url.endswith("/pl/")
    assert phone.locator("h1").inner_text() == "Serwis Twoich urządzeń Extreme Networks"
    assert phone.locator("html").get_attribute("lang") == "pl"
    phone.get_by_role("link", name="English").click()
    phone.wait_for_url("**/en/")
    assert (
        phone.locator("h1").inner_text()
        == "Service for your Extreme Networks equipment"
    )
    phone.get_by_role("link", name="Polski").click()
    phone.wait_for_url("**/pl/")


def test_english_browser_lands_on_english(desktop, live_server):
    desktop.goto(live_server + "/")
    assert desktop.url.endswith("/en/")
    assert "Service portal" in desktop.title()


def test_phone_layout_has_no_horizontal_scroll(phone, live_server):
    for path in ("/pl/", "/en/", "/pl/missing"):
        phone.goto(live_server + path)
        assert_no_horizontal_scroll(phone)


def test_skip_link_moves_focus_to_main(phone, live_server):
    phone.goto(live_server + "/pl/")
    phone.keyboard.press("Tab")
    focused = phone.evaluate("document.activeElement.getAttribute('href')")
    assert focused == "#main"
    phone.keyboard.press("Enter")
    assert phone.evaluate("document.activeElement.id") == "main"


def test_htmx_loads_with_the_strict_csp(phone, live_server):
    phone.goto(live_server + "/pl/")
    phone.wait_for_function("window.htmx !== undefined")
    assert phone.evaluate("htmx.version").startswith("2.")


def test_cards_start_with_their_heading_at_the_padding(phone, live_server):
    # A heading's own top margin inside a card once left a blank band above it.
    phone.goto(live_server + "/en/")
    for card in phone.locator(".card-body").all():
        gap = card.evaluate(
            "c => c.firstElementChild.getBoundingClientRect().top"
            " - c.getBoundingClientRect().top"
            " - parseFloat(getComputedStyle(c).paddingTop)"
            " - parseFloat(getComputedStyle(c).borderTopWidth)"
        )
        assert gap <= 1, f"{gap}px above {card.locator('h2').inner_text()}"
