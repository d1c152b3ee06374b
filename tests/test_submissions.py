"""One-time submission keys: a creating form posted twice writes once."""

import io
import multiprocessing
import re
from datetime import timedelta

import pytest

from hezo.db import utcnow
from hezo.models import (
    Attachment,
    ContactRequest,
    Message,
    OutboxMessage,
    SubmissionKey,
    SupportCase,
)

from .factories import login, make_company, make_contract, make_user

KEY = re.compile(r'name="submission_key" value="([^"]+)"')
CASE = {
    "contract": "HZ-2025-000123",
    "serial": "1942Y-40125",
    "subject": "Przełącznik restartuje się",
    "description": "Co 40 minut.",
    "severity": "critical",
    "contact_phone": "+48 600 100 200",
}


@pytest.fixture
def setup(dbconn):
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw")
    contract = make_contract(
        customer=company, number="HZ-2025-000123", serials=("1942Y-40125",)
    )
    return {
        "company": company,
        "contract": contract,
        "user": make_user(company=company),
        "engineer": make_user(role="engineer", company=None),
    }


def form_key(client, path, form_id=None) -> str:
    """The key of the form on ``path`` (the one in element ``form_id`` if given),
    as a browser gets it."""
    page = client.get(path).get_data(as_text=True)
    if form_id:
        page = page[page.index(f'id="{form_id}"') :]
        return KEY.search(page).group(1)
    keys = KEY.findall(page)
    assert len(keys) == 1, keys
    return keys[0]


def post_case(client, key=None, **changes):
    data = CASE | changes | ({"submission_key": key} if key else {})
    return client.post("/pl/cases/new", data=data, content_type="multipart/form-data")


def open_case(client, user):
    login(client, user)
    assert post_case(client).status_code == 303
    return SupportCase.select().order_by(SupportCase.id.desc()).get()


def test_every_rendering_of_a_form_gets_a_new_key(client, setup):
    login(client, setup["user"])
    first, second = (form_key(client, "/pl/cases/new") for _ in range(2))
    assert first != second and len(first) >= 32


def test_new_case_posted_twice_opens_one_case_and_sends_its_mails_once(client, setup):
    login(client, setup["user"])
    key = form_key(client, "/pl/cases/new")
    first = post_case(client, key)
    mails = OutboxMessage.select().count()
    second = post_case(client, key)
    assert first.status_code == second.status_code == 303
    assert first.location == second.location
    assert SupportCase.select().count() == 1 and Message.select().count() == 1
    assert OutboxMessage.select().count() == mails == 2
    page = client.get(second.location).get_data(as_text=True)
    assert page.count('class="flash flash-success ') == 1
    assert SupportCase.get().number in page


def test_second_post_after_the_flash_was_read_shows_it_again(client, setup):
    login(client, setup["user"])
    key = form_key(client, "/pl/cases/new")
    client.get(post_case(client, key).location)  # the flash is read here
    page = client.get(post_case(client, key).location).get_data(as_text=True)
    assert 'class="flash flash-success ' in page


def test_invalid_post_leaves_the_key_free_for_the_corrected_form(client, setup):
    login(client, setup["user"])
    key = form_key(client, "/pl/cases/new")
    assert post_case(client, key, subject="").status_code == 422
    assert post_case(client, key).status_code == 303
    assert SupportCase.select().count() == 1


def test_post_without_a_key_still_works_unguarded(client, setup):
    # Decision: a page opened before keys existed still posts (not a 4xx);
    # such posts are not deduplicated.
    login(client, setup["user"])
    assert post_case(client).status_code == post_case(client).status_code == 303
    assert SupportCase.select().count() == 2


def test_malformed_key_is_refused_with_a_message(client, setup):
    login(client, setup["user"])
    response = post_case(client, "<script>")
    assert response.status_code == 400
    assert "Odśwież stronę" in response.get_data(as_text=True)
    assert SupportCase.select().count() == 0


def test_key_of_another_account_does_not_replay_its_answer(app, setup):
    other_company = make_company("6281948218", "Inna Firma")
    make_contract(
        customer=other_company, number="HZ-2025-000999", serials=("1942Y-99999",)
    )
    mine, theirs = app.test_client(), app.test_client()
    login(mine, setup["user"])
    key = form_key(mine, "/pl/cases/new")
    first = post_case(mine, key)
    login(theirs, make_user(company=other_company))
    other = post_case(theirs, key, contract="HZ-2025-000999", serial="1942Y-99999")
    assert other.status_code == 303 and other.location != first.location
    assert SupportCase.select().count() == 2
    assert (
        SupportCase.get(
            SupportCase.number == other.location.rsplit("/", 1)[-1]
        ).company_id
        == other_company.id
    )


def test_reply_posted_twice_with_htmx_stores_one_message_same_fragment(client, setup):
    case = open_case(client, setup["user"])
    path = f"/pl/cases/{case.number}"
    key = form_key(client, path, "reply")
    data = {"body": "Druga wiadomość", "submission_key": key}
    hx = {"HX-Request": "true"}
    first = client.post(f"{path}/messages", data=data, headers=hx)
    second = client.post(f"{path}/messages", data=data, headers=hx)
    assert first.status_code == second.status_code == 200
    assert first.get_data() == second.get_data()
    assert "Druga wiadomość" in second.get_data(as_text=True)
    assert Message.select().count() == 2  # the case's first one and this reply
    # The answer's new reply form has a key of its own: the next reply is new.
    assert KEY.findall(first.get_data(as_text=True)) != [key]


def test_reply_with_files_posted_twice_adds_the_files_once(client, setup):
    case = open_case(client, setup["user"])
    key = form_key(client, f"/pl/cases/{case.number}", "reply")
    for _ in range(2):
        response = client.post(
            f"/pl/cases/{case.number}/messages",
            data={
                "body": "Logi w załączniku",
                "files": [(io.BytesIO(b"log line\n"), "switch.log")],
                "submission_key": key,
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 303
    assert Attachment.select().count() == 1 and Message.select().count() == 2


def test_internal_note_posted_twice_is_stored_once(app, client, setup):
    case = open_case(client, setup["user"])
    staff = app.test_client()
    login(staff, setup["engineer"])
    key = form_key(staff, f"/pl/cases/{case.number}", "reply")
    data = {"body": "Notatka", "internal": "y", "submission_key": key}
    for _ in range(2):
        response = staff.post(f"/pl/cases/{case.number}/messages", data=data)
        assert response.status_code == 303
    assert Message.select().where(Message.is_internal).count() == 1


def test_escalation_posted_twice_mails_once(app, client, setup):
    case = open_case(client, setup["user"])
    key = form_key(client, f"/pl/cases/{case.number}", "escalation")
    data = {"reason": "Produkcja stoi", "submission_key": key}
    for _ in range(2):
        response = client.post(f"/pl/cases/{case.number}/escalate", data=data)
        assert response.status_code == 303
    to_escalation = OutboxMessage.recipient == app.config["ESCALATION_EMAIL"]
    assert OutboxMessage.select().where(to_escalation).count() == 1


def test_phone_case_posted_twice_opens_one_case(client, setup):
    login(client, setup["engineer"])
    path = "/pl/staff/cases/new?nip=5260181596"
    data = CASE | {
        "channel": "phone",
        "reporter": "",
        "contact_name": "Jan Kowalski",
        "contact_email": "jan.k@example.pl",
        "submission_key": form_key(client, path),
    }
    responses = [
        client.post(path, data=data, content_type="multipart/form-data")
        for _ in range(2)
    ]
    assert [r.status_code for r in responses] == [303, 303]
    assert responses[0].location == responses[1].location
    assert SupportCase.select().count() == 1


def test_contact_form_posted_twice_is_stored_and_mailed_once(client, dbconn):
    data = {
        "name": "Anna Wiśniewska",
        "email": "anna@example.pl",
        "message": "Proszę o kontakt.",
        "agree": "y",
        "submission_key": form_key(client, "/pl/contact"),
    }
    first = client.post("/pl/contact", data=data)
    second = client.post("/pl/contact", data=data)
    assert first.status_code == second.status_code == 200
    assert ContactRequest.select().count() == 1
    assert OutboxMessage.select().count() == 1


def test_old_keys_are_removed_by_run_reminders(runner, dbconn):
    now = utcnow()
    SubmissionKey.create(account=1, key="old", created_at=now - timedelta(days=2))
    SubmissionKey.create(account=1, key="new", created_at=now - timedelta(hours=1))
    assert runner.invoke(args=["run-reminders"]).exit_code == 0
    assert [k.key for k in SubmissionKey.select()] == ["new"]


# -- two app instances posting the same key at the same instant -----------------

SHARED_CONFIG = (
    "TESTING",
    "SECRET_KEY",
    "TOTP_ENCRYPTION_KEY",
    "WTF_CSRF_ENABLED",
    "TRUSTED_HOSTS",
    "RATELIMIT_ENABLED",
    "DATABASE_URL",
    "DATABASE_OPTIONS",
    "UPLOAD_FOLDER",
    "OUTBOX_FILE_FOLDER",
)


def _post_from_own_instance(config, cookie, post, barrier, answers):
    """A separate process with its own ``create_app()`` and database pool: the
    write it would do is held open for half a second, so the other instance's
    post arrives while it is still running."""
    import time

    from hezo import create_app
    from hezo.cases import services

    for name in ("open_case", "post_message"):
        write = getattr(services, name)

        def slow(*args, _write=write, **kwargs):
            result = _write(*args, **kwargs)
            time.sleep(0.5)
            return result

        setattr(services, name, slow)
    client = create_app(config).test_client()
    client.set_cookie(config["SESSION_COOKIE_NAME"], cookie)
    barrier.wait(timeout=60)
    response = client.post(**post)
    answers.put((response.status_code, response.location, response.get_data()))


def race_two_instances(app, client, post) -> list:
    context = multiprocessing.get_context("spawn")
    barrier, answers = context.Barrier(2), context.Queue()
    config = {k: app.config[k] for k in SHARED_CONFIG if k in app.config}
    config["SESSION_COOKIE_NAME"] = name = app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name).value
    workers = [
        context.Process(
            target=_post_from_own_instance,
            args=(config, cookie, post, barrier, answers),
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    results = [answers.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return results


def test_new_case_posted_at_once_by_two_instances_opens_one_case(app, client, setup):
    login(client, setup["user"])
    key = form_key(client, "/pl/cases/new")
    post = {
        "path": "/pl/cases/new",
        "data": CASE | {"submission_key": key},
        "content_type": "multipart/form-data",
    }
    (status1, where1, _), (status2, where2, _) = race_two_instances(app, client, post)
    assert status1 == status2 == 303 and where1 == where2
    assert SupportCase.select().count() == 1
    assert OutboxMessage.select().count() == 2


def test_reply_posted_at_once_by_two_instances_is_stored_once(app, client, setup):
    case = open_case(client, setup["user"])
    key = form_key(client, f"/pl/cases/{case.number}", "reply")
    post = {
        "path": f"/pl/cases/{case.number}/messages",
        "data": {"body": "Równoległa odpowiedź", "submission_key": key},
        "headers": {"HX-Request": "true"},
    }
    (status1, _, body1), (status2, _, body2) = race_two_instances(app, client, post)
    assert status1 == status2 == 200 and body1 == body2
    assert Message.select().where(Message.body == "Równoległa odpowiedź").count() == 1


def test_password_reset_request_posted_twice_mails_once(client, setup):
    data = {
        "email": setup["user"].email,
        "submission_key": form_key(client, "/pl/password/forgot"),
    }
    for _ in range(2):
        assert client.post("/pl/password/forgot", data=data).status_code == 200
    assert OutboxMessage.select().count() == 1


def test_registration_contact_step_posted_twice_mails_once(client, setup):
    client.post(
        "/pl/register",
        data={
            "nip": "5260181596",
            "contract": "HZ-2025-000123",
            "serial": "1942Y-40125",
        },
    )
    data = {
        "first_name": "Ewa",
        "last_name": "Kowalska",
        "email": "ewa@example.pl",
        "phone": "+48 600 100 200",
        "language": "pl",
        "submission_key": form_key(client, "/pl/register/contact"),
    }
    responses = [client.post("/pl/register/contact", data=data) for _ in range(2)]
    assert [r.status_code for r in responses] == [303, 303]
    assert OutboxMessage.select().count() == 1
