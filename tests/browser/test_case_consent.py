"""A company whose two contracts were sold by different partners reports a case
on the second one: the form names the second contract's partner before the
case is sent, and the case page names it after."""

import re

import pytest

from hezo.models import ConsentEvent, SupportCase

from ..factories import make_company, make_contract, make_user
from .helpers import assert_no_horizontal_scroll, sign_in

FIRST, SECOND = "NetPartner S.A.", "Sieciowo Integracje Sp. z o.o."


@pytest.fixture
def world(dbconn):
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw Sp. z o.o.")
    first = make_company("1860913901", FIRST)
    second = make_company("9542751782", SECOND)
    make_contract(
        customer=company,
        partner=first,
        number="HZ-2026-000101",
        serials=("1942Y-40125",),
    )
    make_contract(
        customer=company,
        partner=second,
        number="HZ-2026-000202",
        serials=("2011Q-77001", "2011Q-77002"),
        service_code="PW-TAC",
    )
    return {"customer": make_user(company=company, language="en"), "second": second}


@pytest.mark.parametrize("screen", ["phone", "desktop"])
def test_consent_names_the_partner_of_the_chosen_contract(
    request, screen, live_server, world
):
    page, base = request.getfixturevalue(screen), live_server
    sign_in(page, base, world["customer"], landing="**/en/contracts/")
    page.goto(base + "/en/cases/new")
    consent = page.locator(".consent-box")
    assert FIRST in consent.inner_text()
    assert page.get_by_label("Serial number").input_value() == "1942Y-40125"
    # The first contract ships replacements: it asks where to.
    page.get_by_label("Delivery or site address").fill("ul. Źródlana 7, Kraków")

    page.get_by_label("Contract").select_option("HZ-2026-000202")
    consent.get_by_text(SECOND, exact=False).wait_for()
    assert page.get_by_test_id("site-fields").count() == 0  # support only
    assert FIRST not in page.locator(".consent-box").inner_text()
    serials = page.get_by_label("Serial number").locator("option").all_inner_texts()
    assert [s.split(" ")[0] for s in serials] == ["2011Q-77001", "2011Q-77002"]

    page.get_by_label("Serial number").select_option("2011Q-77002")
    page.get_by_label("Subject").fill("Brak ruchu na porcie 12")
    page.get_by_label("Description").fill("Od rana port 12 nie przenosi ruchu.")
    page.get_by_label("Let the partner read this case").check()
    assert_no_horizontal_scroll(page)
    page.get_by_role("button", name="Report the case").click()
    page.wait_for_url(re.compile(r".*/en/cases/ZG-\d{4}-\d{5}$"))

    section = page.locator("#consent")
    text = section.inner_text()
    assert f"{SECOND} may read this case." in text
    assert f"granted to {SECOND}" in text and FIRST not in text
    assert_no_horizontal_scroll(page)
    case = SupportCase.get()
    assert case.is_shared and case.device.serial == "2011Q-77002"
    assert ConsentEvent.get().partner_id == world["second"].id
