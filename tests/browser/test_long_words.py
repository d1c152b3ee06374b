"""A 320 px phone, in both languages: a 120-character unbroken subject,
message, company name, person's name and e-mail address never make a page
scroll sideways (case list, case page, contracts, account, queue, accounts)."""

import pytest

from hezo.cases.services import open_case, post_message
from hezo.db import utcnow
from hezo.models import Device

from ..factories import make_company, make_contract, make_user
from .helpers import sign_in

NARROW = {"width": 320, "height": 640}
SUBJECT = "Przełącznik" + "Ż" * 109
MESSAGE = "Logi:" + "0123456789" * 11 + "abcde"
COMPANY = "Przedsiębiorstwo" + "Ł" * 104
EMAIL = "a" * 64 + "@" + "b" * 52 + ".pl"
NAME = "Brzęczyszczykiewicz" * 4
LONG = (SUBJECT, MESSAGE, COMPANY, EMAIL, NAME)
assert {len(SUBJECT), len(MESSAGE), len(COMPANY)} == {120} and len(EMAIL) == 120


def named(user):
    user.first_name = user.last_name = NAME[:80]
    user.save()
    return user


@pytest.fixture
def world(dbconn):
    partner = make_company("1860913901", "NetPartner" + "S" * 110)
    company = make_company("5260181596", COMPANY)
    contract = make_contract(customer=company, partner=partner)
    customer = named(make_user(company=company, email=EMAIL))
    engineer = named(make_user(role="engineer"))
    now = utcnow()
    case = open_case(
        actor=customer,
        contract=contract,
        device=Device.get(Device.contract == contract),
        subject=SUBJECT,
        description=MESSAGE,
        severity="critical",
        contact_phone="",
        share_with=partner,
        files=[],
        now=now,
    )
    post_message(case, engineer, MESSAGE + " " + EMAIL, [], now)
    return {"customer": customer, "engineer": engineer, "case": case}


@pytest.fixture
def narrow(browser):
    context = browser.new_context(viewport=NARROW, locale="pl-PL", is_mobile=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_long_unbroken_words_never_widen_a_320px_page(narrow, live_server, world):
    page, base, number = narrow, live_server, world["case"].number
    pages = {
        "customer": ("/cases/", f"/cases/{number}", "/contracts/", "/account"),
        "engineer": (
            "/staff/",
            f"/cases/{number}",
            "/staff/accounts",
            f"/staff/accounts/{world['customer'].id}",
        ),
    }
    for person, paths in pages.items():
        page.context.clear_cookies()
        sign_in(page, base, world[person])
        for lang in ("pl", "en"):
            for path in paths:
                page.goto(f"{base}/{lang}{path}")
                text = page.locator("main").inner_text()
                assert any(long[:30] in text for long in LONG), path  # shown
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= NARROW["width"], f"/{lang}{path} is {width}px wide"
