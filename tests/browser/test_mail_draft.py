"""A customer's e-mail as a draft, on a phone: seen on the case list, confirmed
on the new-case form with the contract and the serial."""

import os

from hezo.db import utcnow
from hezo.mail import intake
from hezo.models import SupportCase
from hezo.models.mail import ReceivedMail

from ..factories import make_company, make_contract, make_user
from ..test_mail_intake import mail
from .helpers import assert_no_horizontal_scroll, sign_in

SHOTS = os.environ.get("HEZO_SHOTS")


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def test_a_customer_confirms_the_draft_of_their_e_mail(app, dbconn, live_server, phone):
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw Sp. z o.o.")
    make_contract(customer=company, number="HZ-2025-000123", serials=("1942Y-40125",))
    make_contract(customer=company, number="HZ-2025-000200", serials=("XX-1", "XX-2"))
    customer = make_user(company=company, email="anna@zolw.pl", language="en")
    message = mail(
        customer.email,
        "Switch reboots every 40 minutes",
        "Since the update to 32.7 — zażółć gęślą jaźń.",
        attachments=[("show-log.txt", b"reboot: watchdog\n", "text", "plain")],
    )
    raw = bytes(message).replace(b"\n", b"\r\n")
    assert intake.process(intake.Incoming(raw, "INBOX", 1, 1), utcnow()) == "draft"

    sign_in(phone, live_server, customer)
    phone.goto(live_server + "/en/cases/")
    drafts = phone.get_by_test_id("drafts")
    assert "Switch reboots every 40 minutes" in drafts.inner_text()
    assert_no_horizontal_scroll(phone)
    shot(phone, "draft-list.png")

    drafts.get_by_role("link", name="Switch reboots every 40 minutes").click()
    phone.wait_for_url("**/en/cases/new?draft=*")
    assert "show-log.txt" in phone.get_by_test_id("draft").inner_text()
    assert phone.get_by_label("Subject").input_value() == (
        "Switch reboots every 40 minutes"
    )
    phone.get_by_label("Contract").select_option("HZ-2025-000200")
    phone.locator("#serial option[value='XX-2']").wait_for(state="attached")
    phone.get_by_label("Serial number").select_option("XX-2")
    assert_no_horizontal_scroll(phone)
    shot(phone, "draft-form.png")
    phone.get_by_role("button", name="Report the case").click()
    phone.wait_for_url("**/en/cases/ZG-*")
    shot(phone, "draft-case.png")

    case = SupportCase.get()
    assert (case.channel, case.device.serial) == ("email", "XX-2")
    assert ReceivedMail.get().status == "linked"
    phone.goto(live_server + "/en/cases/")
    assert phone.get_by_test_id("drafts").count() == 0
