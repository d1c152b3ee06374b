"""A V-ZAM partner's workspace on a phone: contracts, renewals (CSV), and a
case reported for a customer (with a site address and a file), followed and
answered."""

from datetime import date, timedelta

import pytest

from hezo.models import Attachment, Message, OutboxMessage, SupportCase

from ..factories import make_company, make_contract, make_user
from ..oidc.fixture import PARTNER_NIP
from .conftest import serving
from .helpers import assert_no_horizontal_scroll
from .test_vzam import config_overrides, provider  # noqa: F401 (V-ZAM configured)


@pytest.fixture
def portal(app, dbconn, oidc_provider):
    partner = make_company(nip=PARTNER_NIP, name="Partner Sieci")
    customer = make_company(nip="5260181596", name="Firma Klienta Sp. z o.o.")
    make_user(company=customer, email="it@klient.pl")
    make_contract(
        customer=customer,
        partner=partner,
        number="HZ-2026-000321",
        legacy_number="ZG/321/2021",
        serials=("FG-ALPHA", "FG-BETA"),
        end=date.today() + timedelta(days=30),
    )
    make_contract(customer=customer, partner=partner, serials=("FG-GAMMA",))
    with serving(app, oidc_provider.redirect_port) as base:
        yield base


def test_partner_workspace_on_a_phone(phone, portal):
    page = phone
    page.goto(portal + "/pl/login")
    page.get_by_role("link", name="Zaloguj się przez V-ZAM").click()
    page.get_by_label("V-ZAM login").fill("anna.mfa")
    page.get_by_role("button", name="Sign in to V-ZAM").click()
    page.wait_for_url("**/pl/partner/")

    page.get_by_role("link", name="Sprzedane umowy").click()
    table = page.get_by_test_id("contracts")
    assert "ZG/321/2021" in table.inner_text() and "FG-GAMMA" in table.inner_text()
    assert_no_horizontal_scroll(page)

    page.get_by_role("link", name="Odnowienia").first.click()
    assert "FG-GAMMA" not in page.get_by_test_id("contracts").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Pobierz jako CSV").click()
    with open(download.value.path(), encoding="utf-8") as csv_file:
        assert "HZ-2026-000321;ZG/321/2021" in csv_file.read()

    page.get_by_role("link", name="Zgłoś sprawę w imieniu klienta").first.click()
    # Until the page has loaded, htmx does not yet listen for the contract's
    # change, and the serial list would stay the first contract's.
    page.wait_for_url("**/pl/partner/cases/new")
    with page.expect_response(lambda r: "fragment=serials" in r.url):
        page.get_by_label("Umowa").select_option("HZ-2026-000321")
    page.get_by_label("Numer seryjny").select_option("FG-BETA")
    page.get_by_label("Temat").fill("Przełącznik się restartuje")
    page.get_by_label("Opis").fill("Od poniedziałku co godzinę")
    page.get_by_label("Wysoka — usługa działa z ograniczeniami").check()
    # The replacement's address, and a log, as on the customer's form.
    page.get_by_label("Adres dostawy lub serwisu na miejscu").fill("ul. Polna 1, Łódź")
    page.get_by_label("Załączniki").set_input_files(
        files=[{"name": "switch.log", "mimeType": "text/plain", "buffer": b"up\n"}]
    )
    page.get_by_role("button", name="Wyślij zgłoszenie").click()
    page.wait_for_url("**/pl/cases/ZG-*")
    assert "Firma Klienta" in page.locator("#flash").inner_text()
    assert_no_horizontal_scroll(page)
    page.get_by_label("Twoja wiadomość").fill("Proszę o logi")
    page.get_by_role("button", name="Wyślij").click()
    page.get_by_text("Proszę o logi").first.wait_for()

    case = SupportCase.get()
    assert case.device.serial == "FG-BETA"
    assert case.site_address == "ul. Polna 1, Łódź"
    assert [a.filename for a in Attachment.select()] == ["switch.log"]
    assert Message.select().where(Message.body == "Proszę o logi").count() == 1
    assert OutboxMessage.select().where(OutboxMessage.recipient == "it@klient.pl")
