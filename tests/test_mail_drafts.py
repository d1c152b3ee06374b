"""A registered customer's new e-mail thread: a draft they confirm in the portal
with a contract and a serial (or discard); nobody else ever sees it."""

import itertools
from datetime import timedelta

import pytest

from hezo.db import utcnow
from hezo.mail import intake
from hezo.models import Attachment, OutboxMessage, SupportCase, User
from hezo.models.mail import ReceivedMail

from .factories import login, make_company, make_contract, make_user
from .test_mail_intake import mail

_uid = itertools.count(1)


@pytest.fixture
def world(dbconn):
    company = make_company("5260181596", "Żółw Sp. z o.o.")
    contract = make_contract(customer=company, serials=("SN-1", "SN-2"))
    other = make_company("6281948218", "Obca Sp. z o.o.")
    make_contract(customer=other, serials=("SN-9",))
    return {
        "contract": contract,
        "customer": make_user(company=company, email="anna@zolw.pl", language="en"),
        "colleague": make_user(company=company, email="kolega@zolw.pl"),
        "stranger": make_user(company=other, email="obcy@obca.pl"),
        "engineer": make_user(role="engineer", email="inz@myhezo.pl"),
    }


def receive(message, now=None) -> str:
    raw = bytes(message).replace(b"\n", b"\r\n")
    incoming = intake.Incoming(raw, "INBOX", 1, next(_uid))
    return intake.process(incoming, now or utcnow())


def drafted(world, **kwargs) -> ReceivedMail:
    message = mail(
        world["customer"].email,
        kwargs.pop("subject", "Switch SN-2 nie wstaje"),
        kwargs.pop("body", "Port 1 nie działa od rana."),
        attachments=[
            ("show-tech.log", b"port 1 down\n", "text", "plain"),
            ("virus.exe", b"MZ\x90\x00", "application", "octet-stream"),
        ],
        **kwargs,
    )
    assert receive(message) == "draft"
    return ReceivedMail.get(ReceivedMail.status == "draft")


def confirm_form(world, draft, **changes) -> dict:
    return {
        "draft": str(draft.id),
        "contract": world["contract"].number,
        "serial": "SN-2",
        "subject": draft.subject,
        "description": draft.body,
        "severity": "critical",
    } | changes


def confirm(client, world, draft, **changes):
    """Post the new-case form confirming ``draft``."""
    return client.post(
        "/pl/cases/new",
        data=confirm_form(world, draft, **changes),
        content_type="multipart/form-data",
    )


def test_a_customers_new_thread_is_a_draft_not_a_case(world):
    cases_before = SupportCase.select().count()
    draft = drafted(world)
    assert draft.user_id == world["customer"].id
    assert draft.case_id is None
    assert SupportCase.select().count() == cases_before  # no number, no clock
    # Told by e-mail, in their language, with the link to confirm it.
    told = OutboxMessage.get(OutboxMessage.recipient == "anna@zolw.pl")
    assert "confirm" in told.subject
    assert f"/en/cases/new?draft={draft.id}" in told.body_text
    assert "Switch SN-2 nie wstaje" in told.body_text


def test_drafts_never_reach_the_engineers_triage_or_queue(client, world):
    drafted(world)
    login(client, world["engineer"])
    assert "(0)" in client.get("/pl/staff/").get_data(as_text=True)
    page = client.get("/en/staff/mail").get_data(as_text=True)
    assert "Switch SN-2" not in page and "No e-mail waits" in page


@pytest.mark.parametrize(
    "sender, why",
    [
        ("kto@nieznany.pl", "unknown address"),
        ("inz@myhezo.pl", "an engineer"),
        ("off@zolw.pl", "a disabled customer"),
    ],
)
def test_other_senders_new_threads_still_wait_in_triage(world, sender, why):
    off = make_user(company=world["contract"].customer, email="off@zolw.pl")
    User.update(is_enabled=False).where(User.id == off.id).execute()
    assert receive(mail(sender, "Awaria", "Pomocy")) == "triage", why
    assert ReceivedMail.get().user_id is None


def test_the_customer_sees_and_confirms_a_draft_on_the_new_case_form(client, world):
    draft = drafted(world)
    login(client, world["customer"])
    listing = client.get("/pl/cases/").get_data(as_text=True)
    assert "Switch SN-2 nie wstaje" in listing
    assert f"/pl/cases/new?draft={draft.id}" in listing

    form = client.get(f"/pl/cases/new?draft={draft.id}")
    page = form.get_data(as_text=True)
    assert form.status_code == 200
    assert 'value="Switch SN-2 nie wstaje"' in page
    assert "Port 1 nie działa od rana." in page
    assert "show-tech.log" in page and "virus.exe" in page  # kept / refused

    response = confirm(client, world, draft)
    assert response.status_code == 303
    case = SupportCase.get(SupportCase.subject == "Switch SN-2 nie wstaje")
    assert response.location.endswith(f"/pl/cases/{case.number}")
    assert case.channel == "email" and case.device.serial == "SN-2"
    assert case.reporter_id == world["customer"].id
    assert case.reported_at == draft.received_at  # the clock from the arrival
    names = {a.filename for a in Attachment.select().where(Attachment.case == case)}
    assert names == {"message.eml", "show-tech.log"}
    linked = ReceivedMail.get_by_id(draft.id)
    assert (linked.status, linked.case_id) == ("linked", case.id)
    assert 'data-testid="drafts"' not in client.get("/pl/cases/").get_data(as_text=True)


def test_a_draft_still_needs_a_contract_and_a_covered_serial(client, world):
    draft = drafted(world)
    login(client, world["customer"])
    response = client.post(
        "/pl/cases/new",
        data=confirm_form(world, draft, serial="SN-9"),  # another company's serial
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert ReceivedMail.get_by_id(draft.id).status == "draft"
    assert not SupportCase.select().where(SupportCase.channel == "email").exists()


def test_confirming_twice_makes_one_case(client, world):
    draft = drafted(world)
    login(client, world["customer"])
    data = confirm_form(world, draft)
    first = client.post("/pl/cases/new", data=data, content_type="multipart/form-data")
    # A second tab's form: another submission, the same draft.
    second = client.post("/pl/cases/new", data=data, content_type="multipart/form-data")
    case = SupportCase.get(SupportCase.channel == "email")
    assert first.status_code == second.status_code == 303
    assert second.location.endswith(f"/pl/cases/{case.number}")
    assert SupportCase.select().where(SupportCase.channel == "email").count() == 1
    # The link in the e-mail opened later leads to the case too.
    again = client.get(f"/pl/cases/new?draft={draft.id}")
    assert again.status_code == 303 and again.location.endswith(case.number)


def test_a_confirmation_racing_another_writes_nothing(client, world, monkeypatch):
    """The draft is confirmed elsewhere between this form's check and its write."""
    from hezo.cases import services

    draft = drafted(world)
    login(client, world["customer"])
    real = services.link_mail

    def meanwhile(mail, *args, **kwargs):
        ReceivedMail.update(status="discarded").where(
            ReceivedMail.id == mail.id
        ).execute()
        return real(mail, *args, **kwargs)

    monkeypatch.setattr(services, "link_mail", meanwhile)
    response = confirm(client, world, draft)
    assert response.status_code == 303
    assert not SupportCase.select().where(SupportCase.channel == "email").exists()


def test_the_customer_discards_a_draft(client, world):
    draft = drafted(world)
    login(client, world["customer"])
    response = client.post(f"/pl/cases/drafts/{draft.id}/discard")
    assert response.status_code == 303
    assert ReceivedMail.get_by_id(draft.id).status == "discarded"
    assert "Switch SN-2" not in client.get("/pl/cases/").get_data(as_text=True)
    # The link from the e-mail no longer offers it.
    later = client.get(f"/pl/cases/new?draft={draft.id}")
    assert later.status_code == 303 and later.location.endswith("/pl/cases/")
    response = confirm(client, world, draft)
    assert response.status_code == 303
    assert not SupportCase.select().where(SupportCase.channel == "email").exists()


@pytest.mark.parametrize("who", ["stranger", "colleague", "engineer"])
def test_nobody_else_sees_or_touches_a_draft(client, world, who):
    draft = drafted(world)
    login(client, world[who])
    assert "Switch SN-2" not in client.get("/pl/cases/").get_data(as_text=True)
    expected = 404 if who != "engineer" else 403
    got = client.get(f"/pl/cases/new?draft={draft.id}").status_code
    assert got in (404, expected)
    discard = client.post(f"/pl/cases/drafts/{draft.id}/discard")
    assert discard.status_code in (404, expected)
    if who != "engineer":
        response = confirm(client, world, draft, contract="", serial="")
        assert response.status_code == 404
    assert ReceivedMail.get_by_id(draft.id).status == "draft"


@pytest.mark.parametrize(
    "value", ["abc", "-1", "9" * 30, "1e3", "999999", "\u00b2", "\uff11", "1_0"]
)
def test_a_bad_draft_value_is_a_404(client, world, value):
    login(client, world["customer"])
    assert client.get(f"/pl/cases/new?draft={value}").status_code == 404


def test_a_draft_from_a_failing_dkim_signature_waits_in_triage(world):
    from .test_mail_intake import dkim_key, signed

    key, dns = dkim_key("zolw.pl")
    message = mail(world["customer"].email, "Awaria", "Podpis nie pasuje")
    raw = signed(message, "zolw.pl", key).replace(b"Podpis", b"Podpisy")
    incoming = intake.Incoming(raw, "INBOX", 1, next(_uid))
    assert intake.process(incoming, utcnow(), dnsfunc=dns) == "triage"
    assert "DKIM" in ReceivedMail.get().reason


def test_the_response_clock_of_a_late_confirmation_runs_from_the_mail(client, world):
    arrived = utcnow() - timedelta(hours=2)
    message = mail(world["customer"].email, "Stara awaria", "Od dwóch godzin")
    assert receive(message, now=arrived) == "draft"
    draft = ReceivedMail.get()
    login(client, world["customer"])
    confirm(client, world, draft)
    case = SupportCase.get(SupportCase.channel == "email")
    assert case.reported_at <= arrived


def test_a_draft_nobody_confirms_expires_after_thirty_days(client, world, runner):
    """run-reminders discards the drafts older than DRAFT_KEEP_DAYS; the
    customer's link then says so and offers the new-case form, and the old
    draft cannot be confirmed any more."""
    draft = drafted(world)
    ReceivedMail.update(received_at=utcnow() - timedelta(days=31)).where(
        ReceivedMail.id == draft.id
    ).execute()
    assert receive(mail(world["customer"].email, "Drugi temat", "Też.")) == "draft"
    fresh = ReceivedMail.get(ReceivedMail.subject == "Drugi temat")
    result = runner.invoke(args=["run-reminders"])
    assert result.exit_code == 0 and "E-mail drafts expired: 1." in result.output
    assert ReceivedMail.get_by_id(draft.id).status == "discarded"
    assert ReceivedMail.get_by_id(fresh.id).status == "draft"
    login(client, world["customer"], lang="en")
    later = client.get(f"/en/cases/new?draft={draft.id}", follow_redirects=True)
    assert "This e-mail draft has expired" in later.text
    assert "within 30 days" in later.text
    assert confirm(client, world, draft).status_code == 303
    assert not SupportCase.select().where(SupportCase.channel == "email").exists()
