"""Settings in the database (issue 20, part 3): an administrator changes the
help line and the other contact facts in the console; every page, e-mail and
PDF shows the new value, in both languages, in this process at once and in
another app instance on the same database after its cache check; clearing a
value brings the configuration's default back; reading them costs no query
per request."""

import io
import json

import pytest
from playhouse.test_utils import count_queries
from pypdf import PdfReader

from hezo import create_app, settings
from hezo.mail.queue import render_mail
from hezo.models import AuditEvent, OutboxMessage

from .conftest import TEST_CONFIG
from .factories import (
    login,
    make_case_with_file,
    make_company,
    make_contract,
    make_user,
)

NEW_PHONE = "+48 22 333 44 55"
NEW_TEL = 'href="tel:+48223334455"'
DEFAULT_PHONE = "+48 12 25 25 600"
DATABASE_KEYS = ("DATABASE_URL", "DATABASE_OPTIONS")


@pytest.fixture
def admin(app, dbconn):
    return make_user(role="admin", company=None, email="admin@example.pl")


def admin_client(app, admin):
    client = app.test_client()
    login(client, admin)
    return client


def save(client, lang="pl", **values):
    return client.post(f"/{lang}/admin/settings", data=values)


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_a_changed_help_line_shows_on_pages_mails_and_pdfs_in_both_languages(
    app, admin
):
    company = make_company("5260181596", "Firma A")
    contract = make_contract(customer=company, serials=("SN-A",))
    customer = make_user(company=company, email="anna@firma-a.example.pl")
    case, _file = make_case_with_file(app, customer, contract, "a", False)
    client = admin_client(app, admin)
    anonymous = app.test_client()
    for lang in ("pl", "en"):  # the footer cached per language beforehand
        assert DEFAULT_PHONE in anonymous.get(f"/{lang}/").get_data(as_text=True)

    assert save(client, helpline_phone=NEW_PHONE).status_code == 303

    reader = app.test_client()
    login(reader, customer)
    for lang in ("pl", "en"):
        landing = anonymous.get(f"/{lang}/").get_data(as_text=True)
        assert NEW_TEL in landing and NEW_PHONE in landing
        assert DEFAULT_PHONE not in landing
        pdf = reader.get(f"/{lang}/cases/{case.number}/pdf")
        assert pdf.status_code == 200
        text = " ".join(pdf_text(pdf.data).split())
        assert NEW_PHONE in text and DEFAULT_PHONE not in text
    # A notification e-mail queued after the change (the customer's own).
    reader.post(f"/pl/cases/{case.number}/messages", data={"body": "Nadal stoi"})
    staff = make_user(role="engineer")
    engineer = app.test_client()
    login(engineer, staff)
    engineer.post(f"/pl/cases/{case.number}/messages", data={"body": "Sprawdzamy"})
    mail = (
        OutboxMessage.select()
        .where(OutboxMessage.recipient == customer.email)
        .order_by(OutboxMessage.id.desc())
        .first()
    )
    assert mail is not None and NEW_PHONE in mail.body_text
    assert DEFAULT_PHONE not in mail.body_text
    for lang, label in (("pl", "Infolinia"), ("en", "Help line")):
        with app.test_request_context():
            _subject, body = render_mail("password_changed", lang)
        assert f"{label}: {NEW_PHONE}" in body


def test_clearing_a_value_brings_the_configurations_default_back(app, admin):
    client = admin_client(app, admin)
    save(client, helpline_phone=NEW_PHONE, help_email="wsparcie@example.pl")
    assert "mailto:wsparcie@example.pl" in client.get("/en/").get_data(as_text=True)
    assert save(client, helpline_phone="", help_email="").status_code == 303
    html = client.get("/en/").get_data(as_text=True)
    assert DEFAULT_PHONE in html and NEW_PHONE not in html
    assert "mailto:pomoc@myhezo.pl" in html and "wsparcie@" not in html


def test_each_change_is_audited_with_old_and_new_value(app, admin):
    client = admin_client(app, admin)
    save(client, helpline_phone=NEW_PHONE)
    save(client, helpline_phone=NEW_PHONE)  # the same again: nothing new
    save(client, helpline_phone="")
    events = list(
        AuditEvent.select()
        .where(AuditEvent.action == "setting_changed")
        .order_by(AuditEvent.id)
    )
    assert [e.actor_id for e in events] == [admin.id, admin.id]
    first, second = (json.loads(e.details) for e in events)
    assert first == {
        "name": "HELPLINE_PHONE",
        "old": DEFAULT_PHONE,
        "new": NEW_PHONE,
        "default": False,
    }
    assert (second["old"], second["new"], second["default"]) == (
        NEW_PHONE,
        DEFAULT_PHONE,
        True,
    )


@pytest.mark.parametrize(
    ("field", "value", "pl", "en"),
    [
        ("helpline_phone", "12 25 25 600", "notacji międzynarodowej", "international"),
        ("escalation_phone", "+48 12", "notacji międzynarodowej", "international"),
        ("help_email", "pomoc@", "poprawny adres e-mail", "not a valid e-mail"),
        ("engineers_email", "a b@x.pl", "poprawny adres e-mail", "not a valid e-mail"),
        ("knowledge_base_url", "javascript:alert(1)", "https://", "https://"),
    ],
)
def test_bad_values_are_refused_with_a_translated_message(
    app, admin, field, value, pl, en
):
    client = admin_client(app, admin)
    for lang, expected in (("pl", pl), ("en", en)):
        response = save(client, lang, **{field: value})
        assert response.status_code == 422
        assert expected in response.get_data(as_text=True)
    assert settings.saved() == {}


def test_another_app_instance_sees_the_change_after_its_cache_check(
    app, admin, monkeypatch
):
    overrides = {
        k: app.config[k]
        for k in ("DATABASE_URL", "DATABASE_OPTIONS")
        if k in app.config
    }
    other = create_app(TEST_CONFIG | overrides)
    other_client = other.test_client()
    assert DEFAULT_PHONE in other_client.get("/pl/").get_data(as_text=True)

    save(admin_client(app, admin), helpline_phone=NEW_PHONE)
    # Before its check the other instance still shows what it read...
    assert DEFAULT_PHONE in other_client.get("/pl/").get_data(as_text=True)
    # ... and after SETTINGS_CHECK_SECONDS it reads the new value.
    later = settings.clock() + other.config["SETTINGS_CHECK_SECONDS"] + 1
    monkeypatch.setattr(settings, "clock", lambda: later)
    html = other_client.get("/pl/").get_data(as_text=True)
    assert NEW_PHONE in html and DEFAULT_PHONE not in html
    assert NEW_PHONE in other_client.get("/en/").get_data(as_text=True)


def test_reading_the_settings_costs_no_query_per_request(app, admin, monkeypatch):
    client = app.test_client()
    client.get("/pl/")  # the first read
    with count_queries() as steady:
        client.get("/pl/")
        client.get("/en/contact")
    assert steady.count == 0
    # The cache check: one small query, the values only when they changed.
    later = settings.clock() + app.config["SETTINGS_CHECK_SECONDS"] + 1
    monkeypatch.setattr(settings, "clock", lambda: later)
    with count_queries() as check:
        client.get("/pl/")
    assert check.count == 1


def test_the_engineers_team_address_and_knowledge_base_follow_the_setting(app, admin):
    client = admin_client(app, admin)
    save(
        client,
        engineers_email="zespol@example.pl",
        knowledge_base_url="https://kb.example.com/szukaj",
    )
    with app.app_context():
        assert settings.value("ENGINEERS_EMAIL") == "zespol@example.pl"
    contact = client.get("/pl/contact").get_data(as_text=True)
    assert 'href="https://kb.example.com/szukaj"' in contact


def test_an_empty_knowledge_base_is_not_shown(tmp_path):
    app = create_app(
        TEST_CONFIG
        | {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'kb.db'}",
            "KNOWLEDGE_BASE_URL": "",
        }
    )
    html = app.test_client().get("/en/contact").get_data(as_text=True)
    assert 'class="knowledge-base"' not in html


def test_settings_survive_in_the_database_not_in_the_process(app, admin):
    save(admin_client(app, admin), escalation_email="eskalacje@example.pl")
    overrides = {
        k: app.config[k]
        for k in ("DATABASE_URL", "DATABASE_OPTIONS")
        if k in app.config
    }
    fresh = create_app(TEST_CONFIG | overrides)
    with fresh.app_context():
        assert settings.value("ESCALATION_EMAIL") == "eskalacje@example.pl"
