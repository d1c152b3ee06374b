"""The shipment on the customer's case page and in its PDF; the delivery or
site address asked on the new-case forms, shown to the engineer."""

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader

from hezo.cases.workflow import transition
from hezo.db import utcnow
from hezo.i18n import format_local_datetime, in_language
from hezo.models import AuditEvent, SupportCase

from .factories import (
    login,
    make_company,
    make_contract,
    make_user,
    phone_case_form,
)
from .test_case_form import report as post_case

ADDRESS = "ul. Źródlana 7, hala B\n31-222 Kraków"


@pytest.fixture
def world(dbconn):
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw")
    return {
        "hardware": make_contract(
            customer=company,
            partner=partner,
            number="HZ-2026-000010",
            serials=("HW-1",),
            service_code="PW-ONSITE-NBD",
        ),
        "software": make_contract(
            customer=company,
            number="HZ-2026-000020",
            serials=("SW-1",),
            service_code="PW-TAC",
        ),
        "company": company,
        "customer": make_user(company=company),
        "engineer": make_user(role="engineer", company=None),
        "partner": make_user(role="partner", company=partner),
        "partner_company": partner,
    }


def report(client, contract, serial, **changes):
    """Report a case through the form; the new case."""
    response = post_case(client, contract, serial, **changes)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return SupportCase.get(SupportCase.number == response.location.rsplit("/", 1)[1])


SITE = {
    "site_address": ADDRESS,
    "site_contact_name": "Anna Żak",
    "site_contact_phone": "+48 600 700 800",
}


def ship(case, engineer, now):
    """The engineer's steps up to the replacement's delivery."""
    transition(case, engineer, "in_verification", now - timedelta(hours=5))
    transition(case, engineer, "validated", now - timedelta(hours=4))
    transition(
        case,
        engineer,
        "replacement_sent",
        now - timedelta(hours=3),
        carrier="DHL Express",
        waybill="JJD000123456",
    )
    transition(
        case,
        engineer,
        "awaiting_return",
        now - timedelta(hours=1),
        delivered_at=now - timedelta(hours=2),
    )


def pdf_text(client, case) -> str:
    response = client.get(f"/pl/cases/{case.number}/pdf")
    assert response.status_code == 200
    pages = PdfReader(io.BytesIO(response.data)).pages
    return " ".join(p.extract_text() for p in pages)


def test_the_customer_sees_the_shipment_on_the_page_and_in_the_pdf(app, client, world):
    login(client, world["customer"])
    case = report(client, world["hardware"], "HW-1", **SITE)
    now = utcnow()
    ship(case, world["engineer"], now)
    case = SupportCase.get_by_id(case.id)
    transition(case, world["engineer"], "closed", now, return_waybill="RET-777-PL")
    case = SupportCase.get_by_id(case.id)
    with app.test_request_context(), in_language("pl"):
        short = {
            name: format_local_datetime(getattr(case, name))
            for name in ("shipped_at", "delivered_at", "return_due_at", "returned_at")
        }
        medium = {
            name: format_local_datetime(getattr(case, name))
            for name in ("delivered_at", "return_due_at")
        }

    page = client.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    section = page[page.index('id="shipment"') :]
    section = section[: section.index("</section>")]
    for label, value in (
        ("Przewoźnik", "DHL Express"),
        ("Numer listu przewozowego", "JJD000123456"),
        ("Zamiennik dostarczony", short["delivered_at"]),
        ("Termin zwrotu uszkodzonego urządzenia", short["return_due_at"]),
        ("Numer listu przewozowego zwracanego urządzenia", "RET-777-PL"),
    ):
        # A moment shows how long ago as well: "1 min temu · 6.12.2026, 14:30".
        assert re.search(
            rf"<dt>{re.escape(label)}</dt><dd>(?:(?!</dd>).)*{re.escape(value)}",
            section,
        ), label
    assert short["shipped_at"] in section and short["returned_at"] in section

    text = pdf_text(client, case)
    for expected in (
        "DHL Express",
        "JJD000123456",
        medium["delivered_at"],
        medium["return_due_at"],
        "RET-777-PL",
        "Przewoźnik",
        "Zamiennik dostarczony",
    ):
        assert expected in text, expected


def test_nothing_of_a_shipment_is_shown_before_there_is_one(client, world):
    login(client, world["customer"])
    case = report(client, world["software"], "SW-1")
    page = client.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    # The shipment's element is there (a status change swaps it), hidden and empty.
    assert re.search(r'<section id="shipment"[^>]* hidden>\s*<h2', page)
    assert 'data-testid="shipment"' not in page and 'id="site"' not in page


def test_the_address_is_asked_for_hardware_services_and_prefilled(client, world):
    login(client, world["customer"])
    page = client.get(f"/pl/cases/new?contract={world['hardware'].number}").get_data(
        as_text=True
    )
    assert 'name="site_address"' in page and ADDRESS not in page
    software = client.get(
        f"/pl/cases/new?fragment=serials&contract={world['software'].number}",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert 'name="site_address"' not in software

    first = report(client, world["hardware"], "HW-1", **SITE)
    assert (first.site_address, first.site_contact_name) == (ADDRESS, "Anna Żak")
    assert first.site_contact_phone == "+48 600 700 800"
    for url, headers in (
        (f"/pl/cases/new?contract={world['hardware'].number}", {}),
        (
            f"/pl/cases/new?fragment=serials&contract={world['hardware'].number}",
            {"HX-Request": "true"},
        ),
    ):
        page = client.get(url, headers=headers).get_data(as_text=True)
        assert "ul. Źródlana 7, hala B\n31-222 Kraków</textarea>" in page
        assert 'value="Anna Żak"' in page and 'value="+48 600 700 800"' in page
    # What the form sent along with a contract change wins over the last case.
    page = client.get(
        f"/pl/cases/new?fragment=serials&contract={world['hardware'].number}"
        "&site_address=Inny+adres&site_contact_name=&site_contact_phone=",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "Inny adres</textarea>" in page and "Anna Żak" not in page
    # A case on a service without hardware stores no address.
    assert report(client, world["software"], "SW-1", **SITE).site_address == ""


def test_the_phone_form_asks_and_prefills_the_address_too(app, client, world):
    login(client, world["customer"])
    report(client, world["hardware"], "HW-1", **SITE)
    engineer = app.test_client()
    login(engineer, world["engineer"])
    url = f"/pl/staff/cases/new?nip={world['company'].nip}"
    page = engineer.get(url).get_data(as_text=True)
    assert "Źródlana 7" in page and 'value="Anna Żak"' in page
    response = engineer.post(
        url,
        data=phone_case_form(
            world["hardware"],
            "HW-1",
            reporter=str(world["customer"].id),
            contact_name="",
            contact_email="",
            subject="Telefon",
            severity="major",
            site_address="ul. Nowa 1, Gdańsk",
            site_contact_name="Piotr Nowak",
            site_contact_phone="+48 500 600 700",
        ),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    case = SupportCase.get(SupportCase.channel == "phone")
    assert case.site_address == "ul. Nowa 1, Gdańsk"
    assert case.site_contact_name == "Piotr Nowak"


def test_the_engineer_sees_the_address_and_the_partner_does_not(app, client, world):
    login(client, world["customer"])
    shared = report(
        client,
        world["hardware"],
        "HW-1",
        share="y",
        consent_partner=str(world["partner_company"].id),
        **SITE,
    )
    private = report(client, world["hardware"], "HW-1", **SITE)
    engineer = app.test_client()
    login(engineer, world["engineer"])
    page = engineer.get(f"/pl/cases/{shared.number}").get_data(as_text=True)
    site = page[page.index('id="site"') :]
    assert "ul. Źródlana 7, hala B\n31-222 Kraków</dd>" in site
    assert "Anna Żak" in site and 'href="tel:+48600700800"' in site
    assert 'action="/pl/cases/' + shared.number + '/site"' not in page

    partner = app.test_client()
    login(partner, world["partner"])
    page = partner.get(f"/pl/cases/{shared.number}").get_data(as_text=True)
    assert shared.subject in page
    assert "Źródlana" not in page and "Anna Żak" not in page
    # Partner access is unchanged: an unshared case stays hidden, and the
    # address cannot be changed by anyone but the customer.
    assert partner.get(f"/pl/cases/{private.number}").status_code == 404
    for other in (partner, engineer):
        response = other.post(
            f"/pl/cases/{shared.number}/site", data={"site_address": "x"}
        )
        assert response.status_code == 404
    assert SupportCase.get_by_id(shared.id).site_address == ADDRESS


def test_the_customer_changes_the_address_until_the_replacement_is_sent(client, world):
    login(client, world["customer"])
    case = report(client, world["hardware"], "HW-1", **SITE)
    url = f"/pl/cases/{case.number}/site"
    response = client.post(
        url,
        data=SITE | {"site_address": "ul. Wąska 3\n30-001 Kraków"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "<html" not in response.get_data(
        as_text=True
    )
    assert SupportCase.get_by_id(case.id).site_address == "ul. Wąska 3\n30-001 Kraków"
    assert AuditEvent.select().where(AuditEvent.action == "case_site_changed").exists()

    bad = client.post(url, data=SITE | {"site_contact_phone": "dzwońcie"})
    assert bad.status_code == 422 and "field-error" in bad.get_data(as_text=True)

    now = utcnow()
    transition(case, world["engineer"], "in_verification", now)
    transition(case, world["engineer"], "validated", now)
    transition(
        case, world["engineer"], "replacement_sent", now, carrier="DPD", waybill="1"
    )
    late = client.post(url, data=SITE | {"site_address": "ul. Późna 9"})
    assert late.status_code == 422
    assert "nie można już zmienić" in late.get_data(as_text=True)
    assert SupportCase.get_by_id(case.id).site_address == "ul. Wąska 3\n30-001 Kraków"
    page = client.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert 'name="site_address"' not in page and "ul. Wąska 3" in page
