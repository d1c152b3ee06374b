"""Journey 1 and 2 in a phone-sized Chromium: register, sign out, sign in twice."""

from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import expect

from hezo.db import utcnow
from hezo.models import OutboxMessage

from ..factories import make_company, make_contract
from .helpers import assert_no_horizontal_scroll, open_menu

PASSPHRASE = "Zażółć gęślą jaźń, pięć dużych łabędzi"


@pytest.fixture
def demo_contract(dbconn):
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw Sp. z o.o.")
    return make_contract(
        customer=company,
        number="HZ-2025-000123",
        serials=("1942Y-40125", "1942Y-40126"),
    )


def confirmation_path(email):
    body = OutboxMessage.get(OutboxMessage.recipient == email).body_text
    link = next(w for w in body.split() if "/register/confirm/" in w)
    return "/" + link.split("/", 3)[3]


def sign_in(page, base, email, code):
    page.goto(base + "/pl/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Hasło").fill(PASSPHRASE)
    page.get_by_role("button", name="Dalej").click()
    page.wait_for_url("**/pl/login/code**")
    page.get_by_label("Kod").fill(code)
    page.get_by_role("button", name="Zaloguj się").click()
    page.wait_for_url("**/pl/contracts/")


def test_register_sign_out_and_sign_in_with_totp_then_recovery_code(
    phone, live_server, demo_contract
):
    page, base = phone, live_server
    page.goto(base + "/pl/")
    open_menu(page)
    page.get_by_role("link", name="Zarejestruj się").first.click()
    page.get_by_label("NIP").fill("526-018-15-96")
    page.get_by_label("Numer umowy serwisowej").fill("HZ-2025-000123")
    page.get_by_label("Numer seryjny").fill("1942y-40125")
    assert_no_horizontal_scroll(page)
    page.get_by_role("button", name="Dalej").click()
    page.wait_for_url("**/pl/register/contact")
    page.get_by_label("Imię").fill("Jan")
    page.get_by_label("Nazwisko").fill("Żółkiewski")
    page.get_by_label("Służbowy e-mail").fill("jan@example.pl")
    page.get_by_label("Telefon").fill("+48 600 100 200")
    page.get_by_role("button", name="Wyślij link potwierdzający").click()
    page.wait_for_url("**/pl/register/sent")

    page.goto(base + confirmation_path("jan@example.pl"))
    page.get_by_role("button", name="Dalej").click()
    page.wait_for_url("**/pl/setup/password")
    page.get_by_label("Hasło", exact=True).fill(PASSPHRASE)
    page.get_by_label("Powtórz hasło").fill(PASSPHRASE)
    page.get_by_role("button", name="Dalej").click()
    page.wait_for_url("**/pl/setup/authenticator")
    assert page.locator("svg.qr").is_visible()
    assert_no_horizontal_scroll(page)
    key = page.get_by_test_id("totp-key").inner_text().replace(" ", "")
    # On a phone: open the app by its link, or copy the key (JavaScript shows
    # the copy button and says when it copied).
    link = page.get_by_role("link", name="Otwórz w aplikacji uwierzytelniającej")
    assert link.get_attribute("href").startswith("otpauth://totp/")
    assert f"secret={key}" in link.get_attribute("href")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Kopiuj klucz").click()
    expect(
        page.get_by_role("status").filter(has_text="Skopiowano klucz")
    ).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    totp = pyotp.TOTP(key)
    page.get_by_label("Kod").fill(totp.now())
    page.get_by_role("button", name="Potwierdź").click()
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="Zapisano kody").click()
    page.wait_for_url("**/pl/contracts/")
    assert "HZ-2025-000123" in page.content()
    assert_no_horizontal_scroll(page)

    open_menu(page)
    page.get_by_role("button", name="Wyloguj się").click()
    page.wait_for_url("**/pl/")
    sign_in(page, base, "jan@example.pl", totp.at(utcnow() + timedelta(seconds=30)))
    open_menu(page)
    page.get_by_role("button", name="Wyloguj się").click()
    page.wait_for_url("**/pl/")
    sign_in(page, base, "jan@example.pl", codes[3])
    assert "kod" in page.locator("#flash").inner_text().lower()
