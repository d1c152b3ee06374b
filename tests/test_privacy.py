"""GDPR rights: a copy of one's data, erasure approved by staff, retention,
and the privacy page (hezo/privacy)."""

import io
import json
import os
import zipfile
from datetime import timedelta

import pytest
from pypdf import PdfReader

from hezo.audit import audit
from hezo.cases.services import post_message, record_partner_read, set_consent
from hezo.cases.watchers import add_watcher
from hezo.db import utcnow
from hezo.models import (
    ALL_MODELS,
    Attachment,
    AuditEvent,
    CaseSatisfaction,
    CaseWatcher,
    ContactRequest,
    EndedSession,
    ExternalIdentity,
    Message,
    OutboxMessage,
    PrivacyRequest,
    ReceivedMail,
    RecoveryCode,
    SupportCase,
    User,
)
from hezo.privacy import services
from hezo.privacy.services import FORMER_USER, KEPT_TEXTS, run_retention

from .factories import (
    PASSWORD,
    login,
    make_case_with_file,
    make_company,
    make_contract,
    make_user,
)

NAME = ("Alicja", "Źródłowska")
EMAIL = "alicja.zrodlowska@firma-a.pl"
PHONE = "+48 601 222 333"
IP = "10.20.30.40"
# The address and phone the person had before changing them in their profile.
OLD_EMAIL = "ala.dawniej@firma-a.pl"
OLD_PHONE = "+48 509 876 543"
SATISFACTION = "Szybko i sprawnie, dziękuję"


@pytest.fixture
def world(app, dbconn):
    partner = make_company("1860913901", "NetPartner")
    a, b = make_company("5260181596", "Firma A"), make_company("6281948218", "Firma B")
    contract = make_contract(customer=a, partner=partner, serials=("SN-A",))
    other = make_contract(customer=b, serials=("SN-B",))
    ala = make_user(company=a, email=EMAIL, phone=PHONE)
    User.update(first_name=NAME[0], last_name=NAME[1]).where(
        User.id == ala.id
    ).execute()
    ala.first_name, ala.last_name = NAME
    bob = make_user(company=a, email="bob.kolega@firma-a.pl")
    carl = make_user(company=b, email="carl.obcy@firma-b.pl")
    seller = make_user(role="partner", company=partner)
    engineer = make_user(role="engineer")
    now = utcnow()
    case, file = make_case_with_file(app, ala, contract, "ala", True)
    with app.test_request_context(environ_base={"REMOTE_ADDR": IP}):
        post_message(case, ala, "Zasilacz nadal piszczy, Alicja", [], now)
        audit("login_noted", actor=ala, object_type="user", object_id=ala.id)
    post_message(case, bob, "Wiadomość Boba w sprawie", [], now)
    post_message(case, engineer, f"Odpowiedź dla {ala.full_name}", [], now)
    record_partner_read(case, seller, "partner_case_read", now)
    set_consent(case, ala, False, now)
    bob_case, _ = make_case_with_file(app, bob, contract, "boba", False)
    # Ala watches her colleague's case and writes in it; Bob writes too.
    add_watcher(bob_case, ala.id, bob, now)
    post_message(bob_case, ala, "Alicja dopisuje do sprawy Boba", [], now)
    post_message(bob_case, bob, "Bob o swojej sprawie", [], now)
    CaseSatisfaction.create(
        case=case,
        rating=4,
        comment=f"{SATISFACTION}. {ala.full_name}, tel. {PHONE}",
        author=ala,
        engineer=engineer,
        service_code=contract.service_code,
    )
    for field, old, new in (("email", OLD_EMAIL, EMAIL), ("phone", OLD_PHONE, PHONE)):
        audit(
            "email_changed" if field == "email" else "profile_changed",
            actor=ala,
            object_type="user",
            object_id=ala.id,
            details=json.dumps({"field": field, "old": old, "new": new}),
        )
    OutboxMessage.create(
        recipient=OLD_EMAIL,
        subject="Zmiana adresu e-mail",
        body_text=f"Adres {OLD_EMAIL} zastąpi {EMAIL}.",
    )
    carl_case, _ = make_case_with_file(app, carl, other, "carla", False)
    EndedSession.create(sid="s-ala", user=ala, ended_at=now)
    ReceivedMail.create(
        message_id="<d@x>",
        folder="INBOX",
        received_at=now,
        from_address=EMAIL,
        from_name=ala.full_name,
        subject="Nowy problem",
        body=f"Proszę o kontakt: {PHONE}",
        status="draft",
        user=ala,
    )
    ContactRequest.create(
        name=ala.full_name, email=EMAIL, phone=PHONE, message="Pytanie"
    )
    return {
        "ala": ala,
        "bob": bob,
        "carl": carl,
        "seller": seller,
        "engineer": engineer,
        "case": case,
        "file": file,
        "bob_case": bob_case,
        "carl_case": carl_case,
    }


def signed_in(app, user):
    client = app.test_client()
    login(client, user)
    return client


def download_export(client) -> zipfile.ZipFile:
    request = PrivacyRequest.get(PrivacyRequest.kind == "export")
    assert request.status == "ready"
    with client.get(f"/pl/privacy/export/{request.id}") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/zip"
        return zipfile.ZipFile(io.BytesIO(response.data))


def test_export_holds_every_kind_of_the_persons_data_and_nobody_elses(app, world):
    client = signed_in(app, world["ala"])
    assert client.post("/pl/privacy/export").status_code == 303
    page = client.get("/pl/privacy/mine").get_data(as_text=True)
    assert "Pobierz swoje dane (ZIP)" in page
    archive = download_export(client)
    names = archive.namelist()
    assert {"data.json", "data.pdf"} <= set(names)
    assert f"files/{world['file'].id}-ala.log" in names
    text = archive.read("data.json").decode()
    data = json.loads(text)
    assert data["account"]["email"] == EMAIL
    assert data["account"]["phone"] == PHONE
    assert data["account"]["last_name"] == NAME[1]
    assert data["sign_ins"]["ended_sessions"]
    consents = [(c["case"], c["granted"]) for c in data["consents"]]
    assert (world["case"].number, True) in consents  # given when reporting
    assert (world["case"].number, False) in consents  # and withdrawn
    [case] = data["cases"]
    assert case["number"] == world["case"].number
    bodies = [m["body"] for m in case["your_messages"]]
    assert "Zasilacz nadal piszczy, Alicja" in bodies
    actions = {(e["action"], e["by"]) for e in data["audit_events"]}
    assert ("partner_case_read", "partner (NetPartner)") in actions
    assert ("login_noted", "you") in actions
    assert any(e["ip"] == IP for e in data["audit_events"])
    assert data["mail_drafts"][0]["subject"] == "Nowy problem"
    assert data["contact_requests"][0]["message"] == "Pytanie"
    # The colleague's case the person watches, with their own words in it.
    [watched] = data["watched_cases"]
    assert watched["number"] == world["bob_case"].number
    assert watched["watching_since"]
    assert [m["body"] for m in watched["your_messages"]] == [
        "Alicja dopisuje do sprawy Boba"
    ]
    [answer] = data["satisfaction_answers"]
    assert answer["case"] == world["case"].number and answer["rating"] == 4
    assert answer["comment"].startswith(SATISFACTION)
    assert [r["kind"] for r in data["privacy_requests"]] == ["export"]
    # Nothing of a colleague, of another company, or of their cases.
    for foreign in (
        world["bob"].email,
        world["bob"].last_name,
        "Wiadomość Boba",
        "Bob o swojej sprawie",
        world["carl"].email,
        world["carl"].last_name,
        world["carl_case"].number,
        "Firma B",
        world["seller"].email,
        world["seller"].last_name,
        world["engineer"].last_name,
    ):
        assert foreign not in text, foreign
    pdf = "".join(
        page.extract_text()
        for page in PdfReader(io.BytesIO(archive.read("data.pdf"))).pages
    )
    assert "Źródłowska" in pdf and "Zgody udzielone i wycofane" in pdf
    assert "Zasilacz nadal piszczy" in pdf and "Wiadomość Boba" not in pdf
    assert "Sprawy obserwowane" in pdf and world["bob_case"].number in pdf
    assert "Alicja dopisuje do sprawy Boba" in pdf and "Bob o swojej" not in pdf
    assert "Szybko i sprawnie" in pdf and "ocena 4 z 5" in pdf
    events = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    for action in (
        "privacy_export_requested",
        "privacy_export_ready",
        "privacy_export_downloaded",
    ):
        assert action in events


def test_large_accounts_get_their_copy_from_the_worker(app, world, runner):
    app.config["PRIVACY_EXPORT_INLINE_MAX_ITEMS"] = 0
    client = signed_in(app, world["ala"])
    client.post("/pl/privacy/export")
    request = PrivacyRequest.get(PrivacyRequest.kind == "export")
    assert request.status == "pending"
    assert client.get(f"/pl/privacy/export/{request.id}").status_code == 404
    assert "Przygotowujemy" in client.get("/pl/privacy/mine").get_data(as_text=True)
    client.post("/pl/privacy/export")  # asking again makes no second copy
    assert PrivacyRequest.select().count() == 1
    result = runner.invoke(args=["privacy-exports", "--once"])
    assert result.exit_code == 0, result.output
    assert "Copies made: 1." in result.output
    archive = download_export(client)
    assert json.loads(archive.read("data.json"))["account"]["email"] == EMAIL
    mail = OutboxMessage.select().where(OutboxMessage.recipient == EMAIL)
    assert any("/pl/privacy/mine" in m.body_text for m in mail)
    # Another person cannot download it.
    assert (
        signed_in(app, world["bob"]).get(f"/pl/privacy/export/{request.id}").status_code
        == 404
    )


def seeded_values():
    return [f"{NAME[0]} {NAME[1]}", EMAIL, PHONE, OLD_EMAIL, OLD_PHONE]


def leftovers(app) -> list:
    """Every text column of every table, and every stored file, holding the
    person's name, e-mail or phone (kept case texts aside)."""
    found = []
    for model in ALL_MODELS:
        for field in model._meta.sorted_fields:
            if not hasattr(field, "max_length") and type(field).__name__ != "TextField":
                continue
            if (model, field.name) in KEPT_TEXTS:
                continue
            for row in model.select():
                value = str(
                    getattr(row, field.name) if not field.name.endswith("_id") else ""
                )
                for needle in seeded_values():
                    if needle.lower() in value.lower():
                        found.append((model.__name__, field.name, needle))
    for root in (app.config["UPLOAD_FOLDER"], app.config["OUTBOX_FILE_FOLDER"]):
        for folder, _dirs, files in os.walk(root):
            for name in files:
                with open(os.path.join(folder, name), "rb") as fh:
                    content = fh.read()
                for needle in seeded_values():
                    if needle.encode() in content:
                        found.append((name, needle))
    return found


def erase(app, world):
    """The person asks (after taking a copy); an engineer approves."""
    client = signed_in(app, world["ala"])
    client.post("/pl/privacy/export")
    assert client.post("/pl/privacy/erasure").status_code == 422  # not confirmed
    assert client.post("/pl/privacy/erasure", data={"confirm": "y"}).status_code == 303
    request = PrivacyRequest.get(PrivacyRequest.kind == "erasure")
    assert request.status == "pending"
    told = OutboxMessage.select().where(
        OutboxMessage.recipient == app.config["ENGINEERS_EMAIL"]
    )
    assert any("/pl/privacy/requests" in m.body_text for m in told)
    staff = signed_in(app, world["engineer"])
    page = staff.get("/pl/privacy/requests").get_data(as_text=True)
    assert EMAIL in page
    response = staff.post(
        f"/pl/privacy/requests/{request.id}", data={"decision": "approve"}
    )
    assert response.status_code == 303
    return client


def test_erasure_leaves_the_persons_data_nowhere(app, world):
    assert leftovers(app)  # the seed put it in many places
    erase(app, world)
    assert leftovers(app) == []
    # Their words stay in the case record, signed "former user".
    message = Message.get(Message.body == "Zasilacz nadal piszczy, Alicja")
    assert message.author_name == FORMER_USER
    assert Message.get(Message.body == "Wiadomość Boba w sprawie").author_name == (
        world["bob"].full_name
    )
    assert not AuditEvent.select().where(AuditEvent.ip == IP).exists()
    # Their satisfaction comment is gone whole (the rating stays, by nobody);
    # they watch nothing any more.
    answer = CaseSatisfaction.get(CaseSatisfaction.case == world["case"].id)
    assert answer.comment == "" and answer.rating == 4
    assert not CaseWatcher.select().where(CaseWatcher.user == world["ala"].id).exists()
    assert SupportCase.get_by_id(world["case"].id).contact_email == ""
    page = signed_in(app, world["bob"]).get(f"/pl/cases/{world['case'].number}")
    assert "były użytkownik" in page.get_data(as_text=True)
    actions = {e.action for e in AuditEvent.select()}
    assert {"privacy_erasure_requested", "privacy_erasure_approved"} <= actions


def test_the_erased_person_cannot_sign_in_again(app, world):
    from hezo.accounts.services import request_password_reset

    ala = world["ala"]
    RecoveryCode.create(user=ala, lookup="ABCD", code_hash="x")
    ExternalIdentity.create(user=ala, issuer="https://vzam.example", subject="s-1")
    client = erase(app, world)
    # The session they had ends at once.
    response = client.get("/pl/privacy/mine")
    assert response.status_code == 302 and "/login" in response.location
    fresh = app.test_client()
    response = fresh.post("/pl/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 422
    outbox = OutboxMessage.select().count()
    request_password_reset(EMAIL, utcnow())
    assert OutboxMessage.select().count() == outbox
    user = User.get_by_id(ala.id)
    assert not user.is_enabled and user.password_hash is None
    assert user.totp_secret is None and user.erased_at is not None
    assert not RecoveryCode.select().where(RecoveryCode.user == ala).exists()
    assert not user.external_identities.exists()


def test_an_erased_account_is_never_enabled_again(app, world):
    erase(app, world)
    admin = signed_in(app, make_user(role="admin"))
    page = admin.get(f"/en/staff/accounts/{world['ala'].id}").get_data(as_text=True)
    assert "erased at the person's request" in page
    assert "Enable the account" not in page
    # A crafted POST is refused and changes nothing.
    response = admin.post(
        f"/en/staff/accounts/{world['ala'].id}/enabled", data={"enabled": "1"}
    )
    assert response.status_code == 409
    assert "cannot be enabled again" in response.get_data(as_text=True)
    assert not User.get_by_id(world["ala"].id).is_enabled


def test_erasure_refused_tells_the_person_and_erases_nothing(app, world):
    client = signed_in(app, world["ala"])
    client.post("/pl/privacy/erasure", data={"confirm": "y"})
    request = PrivacyRequest.get(PrivacyRequest.kind == "erasure")
    staff = signed_in(app, world["engineer"])
    assert staff.post(f"/pl/privacy/requests/{request.id}").status_code == 422
    staff.post(
        f"/pl/privacy/requests/{request.id}",
        data={"decision": "refuse", "note": "Trwa spór o zwrot"},
    )
    assert User.get_by_id(world["ala"].id).email == EMAIL
    mail = OutboxMessage.select().where(OutboxMessage.recipient == EMAIL)
    assert any("Trwa spór o zwrot" in m.body_text for m in mail)
    # Decided once: approving afterwards changes nothing.
    staff.post(f"/pl/privacy/requests/{request.id}", data={"decision": "approve"})
    assert User.get_by_id(world["ala"].id).is_enabled


def test_staff_cannot_decide_their_own_request(app, dbconn):
    engineer = make_user(role="engineer")
    client = signed_in(app, engineer)
    client.post("/pl/privacy/erasure", data={"confirm": "y"})
    request = PrivacyRequest.get()
    response = client.post(
        f"/pl/privacy/requests/{request.id}", data={"decision": "approve"}
    )
    assert response.status_code == 303
    assert PrivacyRequest.get_by_id(request.id).status == "pending"
    assert User.get_by_id(engineer.id).erased_at is None


def test_retention_removes_exactly_what_is_due(app, world, runner):
    now = utcnow()
    second = timedelta(seconds=1)
    audit_limit = now - timedelta(days=app.config["RETENTION_AUDIT_DAYS"])
    AuditEvent.delete().execute()
    old_event = AuditEvent.create(action="x", created_at=audit_limit - second)
    young_event = AuditEvent.create(action="y", created_at=audit_limit + second)
    case_limit = now - timedelta(days=app.config["RETENTION_CLOSED_CASE_DAYS"])
    old, young, still_open = world["case"], world["bob_case"], world["carl_case"]
    SupportCase.update(status="closed", last_activity_at=case_limit - second).where(
        SupportCase.id == old.id
    ).execute()
    SupportCase.update(status="closed", last_activity_at=case_limit + second).where(
        SupportCase.id == young.id
    ).execute()
    SupportCase.update(last_activity_at=case_limit - second).where(
        SupportCase.id == still_open.id
    ).execute()
    from hezo.attachments import stored_path

    only_there = stored_path("ab" * 32)
    only_there.parent.mkdir(parents=True, exist_ok=True)
    only_there.write_bytes(b"a log of the old case only\n")
    Attachment.create(
        case=old,
        filename="old.log",
        content_type="text/plain",
        size=27,
        sha256="ab" * 32,
    )
    # Two copies of data: one just expired, one still offered.
    carl = signed_in(app, world["carl"])
    carl.post("/pl/privacy/export")
    bob = signed_in(app, world["bob"])
    bob.post("/pl/privacy/export")
    expired = PrivacyRequest.get(PrivacyRequest.user == world["carl"])
    offered = PrivacyRequest.get(PrivacyRequest.user == world["bob"])
    PrivacyRequest.update(expires_at=now - second).where(
        PrivacyRequest.id == expired.id
    ).execute()
    PrivacyRequest.update(expires_at=now + second).where(
        PrivacyRequest.id == offered.id
    ).execute()
    expired_file = stored_path(expired.file_sha256)
    assert expired_file.is_file()
    # Accounts: quiet just past the period, and just within it.
    quiet = now - timedelta(days=app.config["INACTIVE_ACCOUNT_DAYS"])
    User.update(last_login_at=quiet - second).where(
        User.id == world["carl"].id
    ).execute()
    User.update(last_login_at=quiet + second).where(
        User.id == world["bob"].id
    ).execute()
    User.update(last_login_at=now).where(
        User.id.not_in([world["carl"].id, world["bob"].id])
    ).execute()
    AuditEvent.create(action="z", created_at=now)  # the requests' own events aside

    report = run_retention(now)
    assert report.audit_events == 1 and report.closed_cases == 1
    assert report.expired_exports == 1 and report.inactive_warned == 1
    assert not AuditEvent.select().where(AuditEvent.id == old_event.id).exists()
    assert AuditEvent.select().where(AuditEvent.id == young_event.id).exists()
    assert not SupportCase.select().where(SupportCase.id == old.id).exists()
    assert not Message.select().where(Message.case == old.id).exists()
    assert not Attachment.select().where(Attachment.case == old.id).exists()
    assert not only_there.exists() and report.files == 1
    # Its log has the same content as the kept cases' logs: the file stays.
    assert stored_path(world["file"].sha256).is_file()
    assert (
        SupportCase.select()
        .where(SupportCase.id.in_([young.id, still_open.id]))
        .count()
        == 2
    )
    assert not expired_file.exists()
    assert PrivacyRequest.get_by_id(expired.id).status == "expired"
    assert stored_path(offered.file_sha256).is_file()
    assert OutboxMessage.get(OutboxMessage.recipient == world["carl"].email)
    assert (
        not OutboxMessage.select()
        .where(
            (OutboxMessage.recipient == world["bob"].email)
            & (OutboxMessage.subject.contains("wyłączone"))
        )
        .exists()
    )
    # Daily: the same run again removes and sends nothing more.
    again = run_retention(now)
    assert again == services.RetentionReport()
    # 30 days after the warning, still no sign-in: disabled; a sign-in after
    # the warning keeps the account.
    grace = timedelta(days=app.config["INACTIVE_DISABLE_AFTER_WARNING_DAYS"])
    assert run_retention(now + grace).inactive_disabled == 0  # exactly 30 days
    result = runner.invoke(args=["run-retention"])
    assert result.exit_code == 0 and "Retention:" in result.output
    assert run_retention(now + grace + second).inactive_disabled == 1
    assert not User.get_by_id(world["carl"].id).is_enabled
    assert User.get_by_id(world["bob"].id).is_enabled


def test_a_sign_in_after_the_warning_keeps_the_account(app, dbconn):
    now = utcnow()
    days = app.config["INACTIVE_ACCOUNT_DAYS"]
    user = make_user(last_login_at=now - timedelta(days=days + 1))
    assert run_retention(now).inactive_warned == 1
    User.update(last_login_at=now + timedelta(days=1)).where(
        User.id == user.id
    ).execute()
    later = now + timedelta(days=40)
    assert run_retention(later).inactive_disabled == 0
    assert User.get_by_id(user.id).is_enabled


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        (
            "pl",
            ["Prywatność", "2 lata", "5 lat", "7 dni", "Usunięcie danych (art. 17)"],
        ),
        ("en", ["Privacy", "2 years", "5 years", "7 days", "Erasure (Art. 17)"]),
    ],
)
def test_the_privacy_page_states_the_periods_in_both_languages(
    app, dbconn, lang, texts
):
    client = app.test_client()
    home = client.get(f"/{lang}/").get_data(as_text=True)
    assert f'href="/{lang}/privacy/"' in home  # the footer links it
    page = client.get(f"/{lang}/privacy/").get_data(as_text=True)
    for text in texts:
        assert text in page, text
    assert f"/{lang}/login" in page  # signed out: sign in to exercise them
    user = make_user(language=lang)
    signed = app.test_client()
    login(signed, user, lang=lang)
    assert f'href="/{lang}/privacy/mine"' in signed.get(f"/{lang}/privacy/").get_data(
        as_text=True
    )
