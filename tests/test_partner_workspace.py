"""The partner's workspace: contracts sold, renewals (CSV), cases it reported."""

import io
import re
from datetime import date, timedelta

import pytest

from hezo.models import Attachment, AuditEvent, Message, OutboxMessage, SupportCase

from .factories import login, make_company, make_contract, make_user


@pytest.fixture
def world(app, dbconn):
    p1 = make_company("1860913901", "NetPartner")
    p2 = make_company("9542751782", "Inny Partner")
    a = make_company("5260181596", "Firma A")
    b = make_company("6281948218", "Firma B")
    today = date.today()
    soon = make_contract(
        customer=a,
        partner=p1,
        number="HZ-2026-000777",
        legacy_number="ZG/777/2020",
        serials=("SN-A1", "SN-A2"),
        end=today + timedelta(days=45),
    )
    later = make_contract(customer=b, partner=p1, serials=("SN-B1",))
    other = make_contract(customer=b, partner=p2, number="HZ-2026-000999")
    return {
        "soon": soon,
        "later": later,
        "other": other,
        "customer_a": make_user(company=a, email="a@firma-a.pl"),
        "p1": make_user(role="partner", company=p1),
        "p2": make_user(role="partner", company=p2),
    }


def signed_in(app, user):
    client = app.test_client()
    login(client, user)
    return client


def test_contracts_sold_with_both_numbers_customer_and_serials(app, world):
    html = signed_in(app, world["p1"]).get("/en/partner/contracts").get_data(True)
    for text in ("HZ-2026-000777", "ZG/777/2020", "Firma A", "Firma B", "SN-A2"):
        assert text in html
    assert "PW-AHR-NBD" in html and "expiring" in html
    assert "HZ-2026-000999" not in html  # sold by another partner
    assert "a@firma-a.pl" not in html  # contract data, not the customers' people


def test_renewals_list_and_csv_hold_only_contracts_ending_within_90_days(app, world):
    client = signed_in(app, world["p1"])
    html = client.get("/en/partner/renewals").get_data(True)
    assert "HZ-2026-000777" in html and world["later"].number not in html
    response = client.get("/en/partner/renewals.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("contract;legacy_number;customer")
    assert len(lines) == 2
    assert lines[1].startswith("HZ-2026-000777;ZG/777/2020;Firma A;5260181596;")
    assert lines[1].endswith(";expiring;SN-A1 SN-A2")
    other = signed_in(app, world["p2"]).get("/en/partner/renewals.csv")
    assert "HZ-2026-000777" not in other.get_data(True)


def test_a_csv_cell_cannot_be_a_formula(app, world):
    world["soon"].customer.name = '=HYPERLINK("http://evil")'
    world["soon"].customer.save()
    body = signed_in(app, world["p1"]).get("/en/partner/renewals.csv").get_data(True)
    assert "'=HYPERLINK" in body and ";=HYPERLINK" not in body


def test_reads_and_exports_are_shown_on_the_customers_sharing_page(app, world):
    client = signed_in(app, world["p1"])
    client.get("/en/partner/contracts")
    client.get("/en/partner/renewals.csv")
    actions = {
        (e.action, e.object_id)
        for e in AuditEvent.select().where(AuditEvent.object_type == "company")
    }
    a = str(world["soon"].customer_id)
    assert ("partner_contracts_read", a) in actions
    assert ("partner_renewals_export", a) in actions
    page = signed_in(app, world["customer_a"]).get("/en/partner/sharing")
    html = page.get_data(True)
    assert "viewed your contracts" in html
    assert "downloaded your contracts ending soon" in html
    assert "HZ-2026-000777" in html


def report(client, contract, serial, path="/en/partner/cases/new", **fields):
    return client.post(
        path,
        data={
            "contract": contract.number,
            "serial": serial,
            "subject": "Switch restarts",
            "description": "Since Monday",
            "severity": "major",
        }
        | fields,
        content_type="multipart/form-data",
    )


def test_partner_reports_for_a_customer_who_sees_it_and_is_told(app, world):
    partner = signed_in(app, world["p1"])
    response = report(partner, world["soon"], "SN-A2")
    assert response.status_code == 303
    case = SupportCase.get()
    assert case.company_id == world["soon"].customer_id
    assert case.reporting_partner_id == world["p1"].company_id
    assert not case.is_shared
    mail = [m.recipient for m in OutboxMessage.select()]
    assert "a@firma-a.pl" in mail  # the customer's people are told
    assert world["p1"].email in mail  # the partner's confirmation
    customer = signed_in(app, world["customer_a"])
    assert customer.get(f"/en/cases/{case.number}").status_code == 200
    # The partner follows and answers it.
    assert partner.get(f"/en/cases/{case.number}").status_code == 200
    assert case.number in partner.get("/en/partner/").get_data(True)
    answer = partner.post(f"/en/cases/{case.number}/messages", data={"body": "Logs?"})
    assert answer.status_code == 303
    assert Message.select().where(Message.body == "Logs?").count() == 1
    assert AuditEvent.get(AuditEvent.action == "partner_message").case_id == case.id
    sharing = customer.get("/en/partner/sharing").get_data(True)
    assert "wrote in the case" in sharing
    # Another partner sees nothing of it.
    p2 = signed_in(app, world["p2"])
    assert p2.get(f"/en/cases/{case.number}").status_code == 404


def test_reporting_needs_a_contract_the_partner_sold_and_a_covered_serial(app, world):
    partner = signed_in(app, world["p1"])
    assert report(partner, world["other"], "SN-1").status_code == 422
    assert report(partner, world["soon"], "SN-B1").status_code == 422
    assert report(partner, world["soon"], "").status_code == 422
    assert SupportCase.select().count() == 0


def test_partner_never_answers_a_case_the_customer_only_shared(app, world):
    from .factories import make_case_with_file

    case, _ = make_case_with_file(
        app, world["customer_a"], world["soon"], "shared", share=True
    )
    partner = signed_in(app, world["p1"])
    assert partner.get(f"/en/cases/{case.number}").status_code == 200
    response = partner.post(f"/en/cases/{case.number}/messages", data={"body": "x"})
    assert response.status_code == 404
    assert Message.select().where(Message.body == "x").count() == 0


def test_workspace_query_counts_do_not_grow_with_contracts(app, world):
    from playhouse.test_utils import count_queries

    client = signed_in(app, world["p1"])

    def counted(url):
        with app.app_context(), count_queries(only_select=True) as counter:
            assert client.get(url).status_code == 200
        return counter.count

    few = [counted(u) for u in ("/en/partner/contracts", "/en/partner/renewals")]
    partner = world["p1"].company
    for n in range(25):
        make_contract(
            customer=make_company(name=f"Klient {n}"),
            partner=partner,
            serials=[f"S{n}-{k}" for k in range(5)],
            end=date.today() + timedelta(days=10 + n),
        )
    many = [counted(u) for u in ("/en/partner/contracts", "/en/partner/renewals")]
    assert few == many


def test_a_partner_reported_case_says_so_instead_of_offering_consent(app, world):
    report(signed_in(app, world["p1"]), world["soon"], "SN-A1")
    case = SupportCase.get()
    for user in (world["customer_a"], world["p1"]):
        html = signed_in(app, user).get(f"/en/cases/{case.number}").get_data(True)
        assert "reported this case on the customer" in html
        assert "cannot see this case" not in html
        assert "Share with" not in html


SITE = {
    "site_address": "ul. Serwerowa 7, 00-950 Warszawa",
    "site_contact_name": "Zenon Łącki",
    "site_contact_phone": "+48 600 700 800",
}


def test_partner_report_brings_files_and_site_that_the_customer_sees(app, world):
    partner = signed_in(app, world["p1"])
    page = partner.get("/en/partner/cases/new").get_data(True)
    assert 'enctype="multipart/form-data"' in page
    assert 'name="files"' in page and 'name="site_address"' in page
    files = [(io.BytesIO(b"link down\n"), "switch.log")]
    response = report(partner, world["soon"], "SN-A1", files=files, **SITE)
    assert response.status_code == 303
    case = SupportCase.get()
    assert (case.site_address, case.site_contact_name) == (
        SITE["site_address"],
        "Zenon Łącki",
    )
    attachment = Attachment.get(Attachment.case == case)
    customer = signed_in(app, world["customer_a"])
    html = customer.get(f"/en/cases/{case.number}").get_data(True)
    assert "switch.log" in html and "ul. Serwerowa 7" in html and "Zenon Łącki" in html
    download = customer.get(f"/en/cases/{case.number}/files/{attachment.id}")
    assert download.status_code == 200 and download.data == b"link down\n"
    download.close()


def test_partner_form_is_not_prefilled_with_the_customers_people(app, world):
    customer = signed_in(app, world["customer_a"])
    assert (
        report(customer, world["soon"], "SN-A1", "/en/cases/new", **SITE).status_code
        == 303
    )
    page = signed_in(app, world["p1"]).get("/en/partner/cases/new").get_data(True)
    assert 'name="site_address"' in page
    assert "Zenon Łącki" not in page and "Serwerowa" not in page
    # The customer's own form still is.
    page = customer.get("/en/cases/new").get_data(True)
    assert "Zenon Łącki" in page


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("page.html", b"<html>hi</html>", "ten typ pliku jest niedozwolony"),
        ("fake.png", b"not a png at all", "nie odpowiada jego typowi"),
    ],
)
def test_a_hostile_file_is_refused_with_a_translated_message(
    app, world, name, content, message
):
    partner = signed_in(app, world["p1"])
    files = [(io.BytesIO(b"log\n"), "ok.log"), (io.BytesIO(content), name)]
    response = report(
        partner, world["soon"], "SN-A1", "/pl/partner/cases/new", files=files
    )
    assert response.status_code == 422
    html = response.get_data(True)
    assert name in html and message in html
    assert SupportCase.select().count() == 0 and Attachment.select().count() == 0
    # The acceptable file is kept with the form and goes with it next time.
    kept = re.findall(r'name="kept_file" value="([^"]+)"', html)
    assert len(kept) == 1 and "ok.log" in html
    response = report(partner, world["soon"], "SN-A1", kept_file=kept[0])
    assert response.status_code == 303
    assert [a.filename for a in Attachment.select()] == ["ok.log"]


def test_partner_report_posted_twice_opens_one_case(app, world):
    partner = signed_in(app, world["p1"])
    page = partner.get("/en/partner/cases/new").get_data(True)
    key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
    answers = [
        report(
            partner,
            world["soon"],
            "SN-A1",
            submission_key=key,
            files=[(io.BytesIO(b"log\n"), "a.log")],
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert SupportCase.select().count() == 1 and Attachment.select().count() == 1


def test_a_contract_change_keeps_the_typed_site(app, world):
    """The contract select's refresh (htmx) sends the site fields along."""
    partner = signed_in(app, world["p1"])
    fragment = partner.get(
        "/en/partner/cases/new",
        query_string={"fragment": "serials", "contract": world["later"].number} | SITE,
        headers={"HX-Request": "true"},
    ).get_data(True)
    assert "SN-B1" in fragment and "ul. Serwerowa 7" in fragment
    assert "<html" not in fragment


def test_site_fields_a_partners_form_did_not_show_never_block_it(app, world):
    """As on the customer's form: a contract whose service ships nothing and
    comes nowhere shows no site fields, so what arrives there is no error."""
    tac = make_contract(
        customer=world["soon"].customer,
        partner=world["soon"].partner,
        serials=("SN-T1",),
        service_code="PW-TAC",
    )
    partner = signed_in(app, world["p1"])
    response = report(partner, tac, "SN-T1", site_contact_phone="not a phone")
    assert response.status_code == 303
    assert SupportCase.get().site_contact_phone == ""
    page = report(partner, world["soon"], "SN-A2", site_contact_phone="not a phone")
    assert page.status_code == 422
    assert 'id="site_contact_phone"' in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "tab"),
    [
        ("/en/partner/", "Cases"),
        ("/en/partner/contracts", "Contracts sold"),
        ("/en/partner/renewals", "Renewals"),
        ("/en/partner/cases/new", "Report a case for a customer"),
    ],
)
def test_the_workspace_tabs_mark_the_page_shown(app, world, path, tab):
    html = signed_in(app, world["p1"]).get(path).get_data(True)
    nav = re.search(r'<nav class="workspace-nav".*?</nav>', html, re.S).group(0)
    assert re.findall(r'aria-current="page">([^<]+)</a>', nav) == [tab]
    # The main menu marks the workspace as the section the partner is in.
    assert re.search(r'aria-current="(page|true)">Shared cases</a>', html)
