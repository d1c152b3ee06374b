"""Journeys 4-6 on a phone: a customer reports and follows a case, the partner
reads it while it is shared, an engineer works it to the return of the unit."""

import io
import re

import pytest
from pypdf import PdfReader

from hezo.models import AuditEvent, SupportCase

from ..factories import make_company, make_contract, make_user
from .helpers import assert_no_horizontal_scroll, sign_in

SUBJECT = "Przełącznik restartuje się — zażółć gęślą jaźń"
FIRST = "Od aktualizacji do 32.7 restart co 40 minut. ĄĆĘŁŃÓŚŹŻ"
REPLY = "Dołączam wynik show log po kolejnym restarcie (źdźbło)."


@pytest.fixture
def world(dbconn):
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw Sp. z o.o.")
    make_contract(
        customer=company,
        partner=partner,
        number="HZ-2025-000123",
        serials=("1942Y-40125", "1942Y-40126"),
        service_code="PW-AHR-4H",
    )
    make_contract(customer=company, number="HZ-2025-000200", serials=("XX-1",))
    return {
        "customer": make_user(company=company, language="en"),
        "partner": make_user(role="partner", company=partner, language="en"),
        "engineer": make_user(role="engineer", language="en"),
    }


def report_case(page, base, tmp_path):
    page.get_by_label(re.compile("Search by serial")).fill("40126")
    # The search swaps the rows 300 ms after typing: opening the row before
    # that opens the one about to be replaced (its serials never show).
    page.wait_for_url("**/en/contracts/?q=40126")
    row = page.get_by_test_id("contract-row").filter(has_text="HZ-2025-000123")
    row.locator("summary").click()
    page.get_by_role("link", name="Report a problem with 1942Y-40126").click()
    page.wait_for_url("**/en/cases/new?**")
    assert page.get_by_label("Serial number").input_value() == "1942Y-40126"
    page.get_by_label("Subject").fill(SUBJECT)
    page.get_by_label("Description").fill(FIRST)
    page.get_by_label("Critical — production is down").check()
    log = tmp_path / "switch-log.txt"
    log.write_text("Nov 18 09:12 reboot: watchdog\n", encoding="utf-8")
    page.get_by_label("Attachments").set_input_files(str(log))
    share = page.get_by_label("Let the partner read this case")
    assert not share.is_checked()
    assert "NetPartner S.A." in page.locator(".consent-box").inner_text()
    share.check()
    assert_no_horizontal_scroll(page)
    page.get_by_role("button", name="Report the case").click()
    page.wait_for_url(re.compile(r".*/en/cases/ZG-\d{4}-\d{5}$"))


def test_customer_reports_replies_withdraws_escalates_and_exports(
    phone, live_server, world, tmp_path
):
    page, base = phone, live_server
    sign_in(page, base, world["customer"], landing="**/en/contracts/")
    report_case(page, base, tmp_path)
    flash = page.locator("#flash").inner_text()
    assert "An engineer will contact you by" in flash
    assert page.get_by_text("First response due").is_visible()
    assert "switch-log.txt" in page.locator("#case-files").inner_text()
    assert_no_horizontal_scroll(page)

    page.evaluate("window.__noReload = true")
    page.get_by_label("Your message").fill(REPLY)
    page.get_by_role("button", name="Send").click()
    page.locator("#thread").get_by_text(REPLY).wait_for()
    assert page.evaluate("window.__noReload") is True
    assert page.get_by_label("Your message").input_value() == ""

    page.get_by_role("button", name="Withdraw partner access").click()
    page.locator("#consent").get_by_text("not shared").wait_for()
    assert "withdrawn from NetPartner S.A." in page.locator("#consent").inner_text()

    page.get_by_text("Escalate this case").click()
    page.get_by_label("Reason for the escalation").fill("Produkcja stoi od rana")
    page.get_by_role("button", name="Escalate").click()
    page.locator("#escalation").get_by_text("Produkcja stoi od rana").wait_for()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export to PDF").click()
    pdf = download_info.value.path().read_bytes()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for expected in (SUBJECT, FIRST, REPLY, "switch-log.txt"):
        assert expected in text
    assert page.evaluate("window.__noReload") is True


def test_partner_reads_until_withdrawal_and_engineer_works_the_case(
    browser, live_server, world, tmp_path
):
    from .conftest import PHONE

    def new_page(locale="en-GB"):
        context = browser.new_context(viewport=PHONE, locale=locale, is_mobile=True)
        context.set_default_timeout(10_000)
        return context, context.new_page()

    base = live_server
    cctx, customer = new_page()
    sign_in(customer, base, world["customer"], landing="**/en/contracts/")
    report_case(customer, base, tmp_path)
    number = customer.url.rsplit("/", 1)[1]

    pctx, partner = new_page()
    sign_in(partner, base, world["partner"], landing="**/en/partner/")
    partner.get_by_role("link", name=SUBJECT).click()  # the row's headline
    partner.get_by_text(SUBJECT).first.wait_for()
    with partner.expect_download() as download_info:
        partner.get_by_role("link", name="switch-log.txt").first.click()
    assert download_info.value.path().read_text() == "Nov 18 09:12 reboot: watchdog\n"
    assert partner.get_by_label("Your message").count() == 0

    ectx, engineer = new_page()
    sign_in(engineer, base, world["engineer"], landing="**/en/staff/")
    first_row = engineer.get_by_test_id("queue-row").first
    assert number in first_row.inner_text() and "critical" in first_row.inner_text()
    first_row.get_by_role("link", name=SUBJECT).click()
    engineer.get_by_label("Your message").fill("Dzień dobry, proszę o logi.")
    engineer.get_by_role("button", name="Send").click()
    engineer.locator("#thread").get_by_text("proszę o logi").wait_for()
    for status, fields in (
        ("in_verification", {}),
        ("validated", {}),
        ("replacement_sent", {"Carrier": "DHL", "Waybill number": "JJD000123"}),
        ("awaiting_return", {"Delivered at (Warsaw time)": "now"}),
        ("closed", {"Waybill of the returned unit": "RET-42"}),
    ):
        engineer.get_by_label("New status").select_option(status)
        for label, value in fields.items():
            field = engineer.get_by_label(label)
            if value == "now":
                value = engineer.evaluate(
                    "new Date(Date.now() - 60000 - new Date().getTimezoneOffset() * 0)"
                    ".toLocaleString('sv-SE', {timeZone: 'Europe/Warsaw'})"
                    ".slice(0, 16).replace(' ', 'T')"
                )
            field.fill(value)
        engineer.get_by_role("button", name="Change the status").click()
        engineer.locator("#staff-panel").get_by_text(
            {
                "in_verification": "in verification",
                "validated": "replacement approved",
                "replacement_sent": "replacement sent",
                "awaiting_return": "awaiting return of the faulty unit",
                "closed": "closed",
            }[status]
        ).first.wait_for()
    assert SupportCase.get(SupportCase.number == number).status == "closed"

    customer.reload()
    history = customer.locator(".history").last.inner_text()
    for label in ("replacement approved", "replacement sent", "closed"):
        assert label in history
    assert "proszę o logi" in customer.locator("#thread").inner_text()

    customer.get_by_role("button", name="Withdraw partner access").click()
    customer.locator("#consent").get_by_text("not shared").wait_for()
    partner.reload()
    assert "Not found" in partner.locator("h1").inner_text()
    partner.goto(base + "/en/partner/")
    assert number not in partner.content()

    customer.goto(base + "/en/partner/sharing")
    reads = customer.get_by_test_id("partner-reads").inner_text()
    assert "read the case" in reads and world["partner"].full_name in reads
    assert AuditEvent.select().where(AuditEvent.action == "partner_case_read").exists()
    for ctx in (cctx, pctx, ectx):
        ctx.close()
