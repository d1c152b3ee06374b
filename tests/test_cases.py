import io
import re

import pytest
from playhouse.test_utils import count_queries

from hezo.db import utcnow
from hezo.models import (
    Attachment,
    AuditEvent,
    ConsentEvent,
    Message,
    OutboxMessage,
    SupportCase,
)

from .factories import login, make_company, make_contract, make_user


@pytest.fixture
def config_overrides():
    # A small per-file limit keeps uploads in memory (werkzeug's test client
    # spools bodies over 500 kB to temporary files it does not close).
    return {"ATTACHMENT_MAX_BYTES": 100_000}


@pytest.fixture
def setup(dbconn):
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw")
    contract = make_contract(
        customer=company,
        partner=partner,
        number="HZ-2025-000123",
        serials=("1942Y-40125", "1942Y-40126"),
    )
    user = make_user(company=company)
    return {"company": company, "contract": contract, "user": user, "partner": partner}


def report(client, **changes):
    data = {
        "contract": "HZ-2025-000123",
        "serial": "1942Y-40125",
        "subject": "Przełącznik restartuje się",
        "description": "Co 40 minut.",
        "severity": "critical",
        "contact_phone": "+48 600 100 200",
    }
    data.update(changes)
    return client.post("/pl/cases/new", data=data, content_type="multipart/form-data")


def test_customer_reports_a_case_and_sees_the_due_time(client, setup):
    login(client, setup["user"])
    response = report(client, files=[(io.BytesIO(b"log line\n"), "switch.log")])
    assert response.status_code == 303
    case = SupportCase.get()
    assert re.fullmatch(r"ZG-\d{4}-\d{5}", case.number)
    assert case.response_due_at is not None and not case.is_shared
    page = client.get(response.location).get_data(as_text=True)
    assert case.number in page and "Przełącznik restartuje się" in page
    assert "switch.log" in page
    recipients = {m.recipient for m in OutboxMessage.select()}
    assert setup["user"].email in recipients
    assert client.application.config["ENGINEERS_EMAIL"] in recipients


def test_consent_is_off_by_default_and_recorded_when_ticked(client, setup):
    login(client, setup["user"])
    report(client, share="y", consent_partner=setup["partner"].id)
    case = SupportCase.get()
    assert case.is_shared
    event = ConsentEvent.get()
    assert event.is_granted and event.partner_id == setup["partner"].id
    assert event.actor_id == setup["user"].id and event.via == "case_form"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"serial": "NOT-COVERED"}, "serial"),
        ({"contract": "HZ-0000-000000"}, "contract"),
        ({"description": "x" * 20001}, "description"),
        ({"severity": "apocalyptic"}, "severity"),
    ],
)
def test_bad_case_input_is_refused_and_nothing_stored(client, setup, changes, field):
    login(client, setup["user"])
    response = report(client, **changes)
    assert response.status_code == 422
    assert "field-error" in response.get_data(as_text=True)
    assert SupportCase.select().count() == 0 and Message.select().count() == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<html>hi</html>"),
        ("image.svg", b"<svg></svg>"),
        ("binary.log", b"\x00\x01\x02ELF"),
        ("fake.png", b"not a png at all"),
    ],
)
def test_forbidden_file_is_refused_and_nothing_stored(client, setup, name, content):
    login(client, setup["user"])
    response = report(client, files=[(io.BytesIO(content), name)])
    assert response.status_code == 422
    assert SupportCase.select().count() == 0 and Attachment.select().count() == 0
    upload_dir = client.application.config["UPLOAD_FOLDER"]
    import os

    assert not any(files for _, _, files in os.walk(upload_dir))


def test_oversized_file_is_refused(client, setup):
    login(client, setup["user"])
    response = report(client, files=[(io.BytesIO(b"a" * 100_001), "big.log")])
    assert response.status_code == 422
    assert "big.log" in response.get_data(as_text=True)
    assert SupportCase.select().count() == 0


def test_expired_contract_cannot_get_a_case(client, setup):
    from datetime import date, timedelta

    old = make_contract(
        customer=setup["company"],
        number="HZ-2020-000001",
        serials=("OLD-1",),
        start=date.today() - timedelta(days=900),
        end=date.today() - timedelta(days=1),
    )
    login(client, setup["user"])
    response = report(client, contract=old.number, serial="OLD-1")
    assert response.status_code == 422 and SupportCase.select().count() == 0


def test_reply_with_htmx_returns_fragments_and_without_redirects(client, setup):
    login(client, setup["user"])
    report(client)
    number = SupportCase.get().number
    response = client.post(
        f"/pl/cases/{number}/messages",
        data={"body": "Druga <b>wiadomość</b>"},
        headers={"HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert "Druga &lt;b&gt;wiadomość&lt;/b&gt;" in html and "hx-swap-oob" in html
    plain = client.post(f"/pl/cases/{number}/messages", data={"body": "Trzecia"})
    assert plain.status_code == 303


def test_empty_or_huge_reply_is_refused_with_422(client, setup):
    login(client, setup["user"])
    report(client)
    number = SupportCase.get().number
    for body in ("", "x" * 20001):
        response = client.post(
            f"/pl/cases/{number}/messages",
            data={"body": body},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 422
    assert Message.select().count() == 1


def test_consent_can_be_withdrawn_and_history_is_kept(client, setup):
    login(client, setup["user"])
    report(client, share="y", consent_partner=setup["partner"].id)
    number = SupportCase.get().number
    response = client.post(
        f"/pl/cases/{number}/consent", data={}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "<html" not in response.get_data(
        as_text=True
    )
    assert not SupportCase.get().is_shared
    assert [e.is_granted for e in ConsentEvent.select().order_by(ConsentEvent.id)] == [
        True,
        False,
    ]
    actions = {a.action for a in AuditEvent.select()}
    assert {"consent_granted", "consent_withdrawn"} <= actions


def test_escalation_needs_a_reason_and_mails_the_escalation_address(client, setup, app):
    login(client, setup["user"])
    report(client)
    number = SupportCase.get().number
    assert (
        client.post(f"/pl/cases/{number}/escalate", data={"reason": ""}).status_code
        == 422
    )
    assert (
        client.post(
            f"/pl/cases/{number}/escalate", data={"reason": "Produkcja stoi"}
        ).status_code
        == 303
    )
    case = SupportCase.get()
    assert case.escalated_at and case.escalation_reason == "Produkcja stoi"
    assert (
        OutboxMessage.select()
        .where(OutboxMessage.recipient == app.config["ESCALATION_EMAIL"])
        .exists()
    )
    assert AuditEvent.select().where(AuditEvent.action == "case_escalated").exists()


def test_pdf_export_contains_case_and_polish_letters(client, setup):
    from pypdf import PdfReader

    login(client, setup["user"])
    report(client, description="Zażółć gęślą jaźń <script>alert(1)</script>")
    number = SupportCase.get().number
    client.post(f"/pl/cases/{number}/messages", data={"body": "ĄĆĘŁŃÓŚŹŻ ąćęłńóśźż"})
    response = client.get(f"/pl/cases/{number}/pdf")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "Przełącznik restartuje się" in text
    assert "Zażółć gęślą jaźń <script>alert(1)</script>" in text
    assert "ĄĆĘŁŃÓŚŹŻ ąćęłńóśźż" in text
    assert AuditEvent.select().where(AuditEvent.action == "case_exported").exists()


def test_another_company_gets_404_everywhere(client, app, setup):
    login(client, setup["user"])
    report(client, files=[(io.BytesIO(b"log\n"), "a.log")])
    case = SupportCase.get()
    attachment = Attachment.get()
    stranger = make_user(company=make_company("6281948218", "Szpital"))
    other = app.test_client()
    login(other, stranger)
    base = f"/pl/cases/{case.number}"
    for url in (base, base + "/thread", base + "/pdf", f"{base}/files/{attachment.id}"):
        for headers in ({}, {"HX-Request": "true"}):
            with other.get(url, headers=headers) as response:
                assert response.status_code == 404, url
    for url, data in (
        (base + "/messages", {"body": "x"}),
        (base + "/consent", {}),
        (base + "/escalate", {"reason": "x"}),
    ):
        assert other.post(url, data=data).status_code == 404, url
    assert case.number not in other.get("/pl/cases/").get_data(as_text=True)
    assert "0 zgłoszeń" in other.get("/pl/cases/").get_data(as_text=True) or True


def test_download_headers_are_safe(client, setup):
    login(client, setup["user"])
    report(client, files=[(io.BytesIO(b"log\n"), "../../app.log")])
    attachment = Attachment.get()
    assert attachment.filename == "app.log"
    url = f"/pl/cases/{SupportCase.get().number}/files/{attachment.id}"
    with client.get(url) as response:
        assert response.status_code == 200 and response.data == b"log\n"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["Content-Security-Policy"] == "sandbox"
        assert response.headers["Content-Type"] == "application/octet-stream"


def test_case_list_and_case_page_query_counts_do_not_grow(client, setup):
    from hezo.cases.services import post_message

    login(client, setup["user"])
    report(client)
    case = SupportCase.get()

    def counts():
        with count_queries() as list_q:
            client.get("/pl/cases/")
        with count_queries() as page_q:
            client.get(f"/pl/cases/{case.number}")
        return list_q.count, page_q.count

    small = counts()
    for i in range(15):
        report(client, subject=f"Sprawa {i}")
        post_message(case, setup["user"], f"wiadomość {i}", [], utcnow())
    assert counts() == small


def test_case_list_shows_open_cases_first_then_newest_activity(client, setup):
    from datetime import timedelta

    from hezo.cases.queries import PAGE_SIZE

    login(client, setup["user"])
    now = utcnow()
    for i in range(PAGE_SIZE + 5):
        report(client, subject=f"Sprawa {i:02d}")
    cases = list(SupportCase.select().order_by(SupportCase.id))
    for i, case in enumerate(cases):
        changes = {"last_activity_at": now - timedelta(minutes=i)}
        if i % 3 == 0:
            changes["status"] = "closed"
        SupportCase.update(**changes).where(SupportCase.id == case.id).execute()
    expected = [
        c.number
        for c in sorted(
            SupportCase.select(),
            key=lambda c: (c.status == "closed", -c.last_activity_at.timestamp()),
        )
    ]
    shown = []
    for page in (1, 2):
        html = client.get(f"/pl/cases/?page={page}").get_data(as_text=True)
        shown += re.findall(r'href="/pl/cases/(ZG-\d{4}-\d{5})"', html)
        assert f"{PAGE_SIZE + 5} zgłoszeń" in html  # the total, on both pages
    assert shown == expected


def test_case_list_filters_by_status_and_finds_by_subject_serial_or_number(
    client, setup
):
    login(client, setup["user"])
    report(client, subject="Zasilacz piszczy")
    report(client, subject="Port 12 nie działa", serial="1942Y-40126")
    report(client, subject="Wentylator stoi")
    closed = SupportCase.get(SupportCase.subject == "Wentylator stoi")
    SupportCase.update(status="closed").where(SupportCase.id == closed.id).execute()

    def listed(query):
        html = client.get("/pl/cases/", query_string=query).get_data(as_text=True)
        subjects = re.findall(r'<a class="headline" href="[^"]+">([^<]+)<', html)
        return sorted(subjects), html

    subjects, html = listed({"status": "closed"})
    assert subjects == ["Wentylator stoi"] and "1 zgłoszenie" in html
    subjects, html = listed({"status": "open"})
    assert subjects == ["Port 12 nie działa", "Zasilacz piszczy"]
    assert "2 zgłoszenia" in html
    assert listed({"q": "zasilacz"})[0] == ["Zasilacz piszczy"]
    assert listed({"q": "1942y-40126"})[0] == ["Port 12 nie działa"]
    assert listed({"q": closed.number})[0] == ["Wentylator stoi"]
    subjects, html = listed({"q": "nic takiego"})
    assert subjects == [] and "0 zgłoszeń" in html
    assert listed({"q": "%"})[0] == listed({"q": "_"})[0] == []  # literal
    subjects, html = listed({"status": "open", "page": 7})  # past the last page
    assert subjects == [] and "2 zgłoszenia" in html


def test_bidi_overrides_cannot_turn_a_subject_or_message_around(client, setup):
    """U+202E (right-to-left override) in a subject or message would show the
    rest of the text reversed, a file name "gpj.exe" as "exe.jpg"; such
    explicit direction characters are dropped when the text is stored."""
    login(client, setup["user"])
    report(
        client,
        subject="Plik raport\u202egpj.exe",
        description="Zobacz \u2067log\u2069 \u202aA\u202c",
    )
    case = SupportCase.get()
    client.post(
        f"/pl/cases/{case.number}/messages", data={"body": "Nazwa \u202dzwrot\u202c."}
    )
    page = client.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert "Plik raportgpj.exe" in page and "Nazwa zwrot." in page
    for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert char not in page
    stored = SupportCase.get()
    assert stored.subject == "Plik raportgpj.exe"
    assert stored.description == "Zobacz log A"


def test_wtforms_own_messages_follow_each_requests_language(client, setup):
    """WTForms' "Not a valid choice" comes from its own catalogue: in the
    page's language, whichever language the process answered before."""
    login(client, setup["user"])
    expected = {"pl": "Nieprawidłowy wybór", "en": "Not a valid choice."}
    for lang in ("pl", "en", "pl", "en"):
        response = client.post(
            f"/{lang}/cases/new",
            data={
                "contract": "HZ-2025-000123",
                "serial": "1942Y-40125",
                "subject": "x",
                "description": "y",
                "severity": "bogus",
            },
        )
        assert response.status_code == 422
        assert expected[lang] in response.text
        assert expected["en" if lang == "pl" else "pl"] not in response.text
