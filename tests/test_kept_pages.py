"""The case page kept for a customer or partner (hezo.kept_pages): it is
rendered once while nothing on it changes, and any change, by whichever
writer (the portal, e-mail intake, an import, a statement typed into the
database), shows on the next load. Each writer below goes round the portal's
services, as another process would: only the database's triggers and the
row the page reads can tell the page it changed."""

import inspect
import re
from datetime import timedelta

import pytest
from flask import template_rendered

from hezo import kept_pages
from hezo.cases.services import post_message, set_consent
from hezo.db import db, utcnow
from hezo.models import (
    Attachment,
    CaseSatisfaction,
    CaseWatcher,
    ConsentEvent,
    Device,
    Message,
    StatusChange,
    SupportCase,
    User,
)

from . import test_staff
from .factories import login, make_company, make_contract, make_user
from .test_security_csrf import sign_in


@pytest.fixture
def world(dbconn):
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", "Żółw Sp. z o.o.")
    contract = make_contract(customer=company, partner=partner, serials=("SN-1",))
    return {
        "contract": contract,
        "partner": partner,
        "customer": make_user(company=company, first_name="Anna", language="en"),
        "colleague": make_user(company=company, first_name="Bogna", language="en"),
        "partner_user": make_user(role="partner", company=partner, language="en"),
        "engineer": make_user(role="engineer", company=None, language="en"),
    }


@pytest.fixture
def renders(app):
    """The names of the templates rendered (the kept page renders none)."""
    names = []

    def record(sender, template, context, **extra):
        names.append(template.name)

    template_rendered.connect(record, app)
    yield names
    template_rendered.disconnect(record, app)


@pytest.fixture(autouse=True)
def steady_clock(monkeypatch):
    """The kept page's time bucket held still (a test is not to cross one)."""
    now = utcnow()
    monkeypatch.setattr(kept_pages, "utcnow", lambda: now)
    return now


def page(client, case) -> str:
    response = client.get(f"/en/cases/{case.number}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def untokened(html: str) -> str:
    """The page without what each load gets anew (CSRF token, submission keys)."""
    html = html.replace(token(html), "")
    return re.sub(r'name="submission_key" value="[^"]+"', "", html)


def token(html: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def test_the_page_is_rendered_once_while_nothing_on_it_changes(client, world, renders):
    case = test_staff.new_case(world)
    login(client, world["customer"], lang="en")
    renders.clear()
    first, second = page(client, case), page(client, case)
    assert renders.count("cases/detail.html") == 1
    assert untokened(first) == untokened(second)
    post_message(case, world["engineer"], "We are on it.", [], utcnow())
    assert "We are on it." in page(client, case)
    assert renders.count("cases/detail.html") == 2


def _message(case, world):
    Message.create(case=case, author_name="Inżynier", body="Sprawdzamy zasilacz.")
    return "Sprawdzamy zasilacz."


def _message_edited(case, world):
    message = Message.create(case=case, author_name="Inżynier", body="Pierwsza wersja")
    yield
    db.execute_sql(
        "UPDATE message SET body = %s WHERE id = %s"
        if db.param == "%s"
        else "UPDATE message SET body = ? WHERE id = ?",
        ("Poprawiona wersja", message.id),
    )
    return "Poprawiona wersja"


def _message_deleted(case, world):
    message = Message.create(case=case, author_name="Inżynier", body="Do usunięcia")
    yield
    Message.delete().where(Message.id == message.id).execute()
    return "!Do usunięcia"


def _status(case, world):
    SupportCase.update(status="in_verification").where(
        SupportCase.id == case.id
    ).execute()
    StatusChange.create(case=case, from_status="new", to_status="in_verification")
    return 'data-status="in_verification"'


def _history_only(case, world):
    StatusChange.create(
        case=case, from_status="new", to_status="new", note="Dzwoniliśmy do klienta"
    )
    return "Dzwoniliśmy do klienta"


def _file(case, world):
    Attachment.create(
        case=case,
        filename="show-tech-zolw.txt",
        content_type="text/plain",
        size=10,
        sha256="0" * 64,
    )
    return "show-tech-zolw.txt"


def _consent(case, world):
    ConsentEvent.create(
        case=case,
        partner=world["partner"],
        is_granted=True,
        actor=world["customer"],
        text_version="1",
        via="case_page",
    )
    return "granted to NetPartner S.A."


def _watcher(case, world):
    CaseWatcher.create(case=case, user=world["colleague"])
    return re.compile(r"Bogna Nowak\d+")


def _follow_up(case, world):
    later = test_staff.new_case(world, subject="Znowu to samo")
    SupportCase.update(follows=case).where(SupportCase.id == later.id).execute()
    return later.number


def _subject(case, world):
    SupportCase.update(subject="Przełącznik w szafie B").where(
        SupportCase.id == case.id
    ).execute()
    return "Przełącznik w szafie B"


def _device(case, world):
    Device.update(product="X695-48Y").where(Device.id == case.device_id).execute()
    return "X695-48Y"


def _satisfaction(case, world):
    SupportCase.update(status="closed").where(SupportCase.id == case.id).execute()
    yield
    CaseSatisfaction.create(
        case=case, rating=5, comment="Szybko i sprawnie", service_code="X"
    )
    return "Szybko i sprawnie"


WRITERS = [
    _message,
    _message_edited,
    _message_deleted,
    _status,
    _history_only,
    _file,
    _consent,
    _watcher,
    _follow_up,
    _subject,
    _device,
    _satisfaction,
]


@pytest.mark.parametrize("writer", WRITERS, ids=[w.__name__[1:] for w in WRITERS])
def test_a_change_by_any_writer_shows_on_the_next_load(client, world, renders, writer):
    case = test_staff.new_case(world)
    login(client, world["customer"], lang="en")
    steps = writer(case, world) if inspect.isgeneratorfunction(writer) else None
    if steps:  # its set-up first, then the page, then the change
        next(steps)
    before = page(client, case)
    assert untokened(page(client, case)) == untokened(before)  # kept
    assert renders.count("cases/detail.html") == 1
    if steps:
        with pytest.raises(StopIteration) as done:
            next(steps)
        expected = done.value.value
    else:
        expected = writer(case, world)
    after = page(client, case)
    if isinstance(expected, re.Pattern):  # a watcher: the name listed once more
        assert len(expected.findall(after)) > len(expected.findall(before))
    elif expected.startswith("!"):
        assert expected[1:] in before and expected[1:] not in after
    else:
        assert expected not in before and expected in after


@pytest.mark.parametrize("config_overrides", [{"WTF_CSRF_ENABLED": True}], ids=["csrf"])
def test_each_reader_gets_their_own_page_and_token(app, world, renders):
    case = test_staff.new_case(world)
    anna, bogna = app.test_client(), app.test_client()
    sign_in(anna, world["customer"])
    sign_in(bogna, world["colleague"])
    first, second = page(anna, case), page(bogna, case)
    assert re.search(r"<strong>Anna Nowak\d+</strong>", first)
    assert re.search(r"<strong>Bogna Nowak\d+</strong>", second)
    assert token(first) != token(second)
    # A kept page carries this request's token, and it is good for a reply.
    again = page(bogna, case)
    assert renders.count("cases/detail.html") == 2
    response = bogna.post(
        f"/en/cases/{case.number}/messages",
        data={"csrf_token": token(again), "body": "Dziękuję, czekamy."},
    )
    assert response.status_code in (200, 303), response.status_code
    assert "Dziękuję, czekamy." in page(anna, case)
    # Another reader's token is not this one's.
    response = anna.post(
        f"/en/cases/{case.number}/messages",
        data={"csrf_token": token(again), "body": "Nie moje."},
    )
    assert response.status_code == 400
    assert Message.select().where(Message.body == "Nie moje.").count() == 0


def test_a_partner_loses_a_kept_page_the_moment_consent_is_withdrawn(app, world):
    case = test_staff.new_case(world)
    set_consent(case, world["customer"], True, utcnow(), world["partner"].id)
    partner = app.test_client()
    login(partner, world["partner_user"], lang="en")
    assert case.subject in page(partner, case)
    assert case.subject in page(partner, case)
    set_consent(SupportCase.get_by_id(case.id), world["customer"], False, utcnow())
    assert partner.get(f"/en/cases/{case.number}").status_code == 404


def test_what_the_version_does_not_cover_shows_within_the_bucket(
    client, world, monkeypatch, steady_clock
):
    """A colleague's name in the watchers panel, say: not part of the case's
    version, so at most kept_pages.BUCKET_SECONDS old."""
    case = test_staff.new_case(world)
    login(client, world["customer"], lang="en")
    page(client, case)
    User.update(first_name="Celina").where(User.id == world["colleague"].id).execute()
    later = steady_clock + timedelta(seconds=kept_pages.BUCKET_SECONDS)
    monkeypatch.setattr(kept_pages, "utcnow", lambda: later)
    assert "Celina" in page(client, case)


def reply_key(html: str) -> str:
    form = html[html.index('action="/en/cases/') :]
    form = form[form.index("/messages") :]
    return re.search(r'name="submission_key" value="([^"]+)"', form).group(1)


def test_two_tabs_of_a_kept_page_each_post_their_reply_once(client, world, renders):
    case = test_staff.new_case(world)
    login(client, world["customer"], lang="en")
    first, second = page(client, case), page(client, case)
    assert renders.count("cases/detail.html") == 1
    assert reply_key(first) != reply_key(second)
    for html, body in ((first, "Z pierwszej karty"), (second, "Z drugiej karty")):
        data = {"body": body, "submission_key": reply_key(html)}
        for _ in range(2):  # each tab's button pressed twice
            response = client.post(f"/en/cases/{case.number}/messages", data=data)
            assert response.status_code == 303
    bodies = [m.body for m in Message.select().where(Message.case == case)]
    assert bodies.count("Z pierwszej karty") == 1
    assert bodies.count("Z drugiej karty") == 1


def test_the_page_moves_on_with_the_clock(
    client, world, renders, monkeypatch, steady_clock
):
    case = test_staff.new_case(world)
    login(client, world["customer"], lang="en")
    page(client, case)
    page(client, case)
    assert renders.count("cases/detail.html") == 1
    later = steady_clock + timedelta(seconds=kept_pages.BUCKET_SECONDS)
    monkeypatch.setattr(kept_pages, "utcnow", lambda: later)
    page(client, case)
    assert renders.count("cases/detail.html") == 2


def test_engineers_and_pages_with_flashes_are_rendered_each_time(
    client, world, renders
):
    case = test_staff.new_case(world)
    login(client, world["engineer"], lang="en")
    page(client, case)
    page(client, case)
    assert renders.count("cases/detail.html") == 2


# -- the case list and the staff queue: kept for the rows they read ----------------


def test_the_case_list_is_kept_until_a_case_on_it_changes(client, world, renders):
    case = test_staff.new_case(world, subject="Zasilacz piszczy")
    login(client, world["customer"], lang="en")
    first = client.get("/en/cases/").get_data(as_text=True)
    again = client.get("/en/cases/").get_data(as_text=True)
    assert renders.count("cases/list.html") == 1
    assert untokened(first) == untokened(again)
    # Changed round the portal: the row the list reads is what it is kept for.
    SupportCase.update(subject="Zasilacz wymieniony").where(
        SupportCase.id == case.id
    ).execute()
    html = client.get("/en/cases/").get_data(as_text=True)
    assert "Zasilacz wymieniony" in html and "Zasilacz piszczy" not in html
    test_staff.new_case(world, subject="Druga awaria")
    assert "Druga awaria" in client.get("/en/cases/").get_data(as_text=True)
    # Each filter and the htmx fragment are pages of their own.
    closed = client.get("/en/cases/?status=closed").get_data(as_text=True)
    assert "Druga awaria" not in closed
    rows = client.get("/en/cases/", headers={"HX-Request": "true"})
    assert "<html" not in rows.get_data(as_text=True)
    assert "Druga awaria" in rows.get_data(as_text=True)
    assert "HX-Request" in rows.headers["Vary"]


def test_the_queue_is_kept_until_its_rows_or_counts_change(client, world, renders):
    test_staff.new_case(world, subject="Pierwsza")
    other = make_user(role="engineer", company=None, language="en")
    login(client, world["engineer"], lang="en")
    client.get("/en/staff/")
    client.get("/en/staff/")
    assert renders.count("staff/queue.html") == 1
    case = test_staff.new_case(world, subject="Druga")
    assert "Druga" in client.get("/en/staff/").get_data(as_text=True)
    SupportCase.update(assignee=other).where(SupportCase.id == case.id).execute()
    mine = client.get("/en/staff/?assignee=me").get_data(as_text=True)
    assert "Druga" not in mine
    # Another engineer's "mine" is theirs.
    theirs = client.application.test_client()
    login(theirs, other, lang="en")
    assert "Druga" in theirs.get("/en/staff/?assignee=me").get_data(as_text=True)


def test_a_kept_case_page_reads_the_user_and_the_case_version_only(
    client, world, renders
):
    from playhouse.test_utils import count_queries

    case = test_staff.new_case(world)
    for n in range(10):
        post_message(case, world["engineer"], f"Odpowiedź {n}", [], utcnow())
    login(client, world["customer"], lang="en")
    page(client, case)
    with count_queries() as counted:
        html = page(client, case)
    assert "Odpowiedź 9" in html and renders.count("cases/detail.html") == 1
    assert counted.count == 2


def test_data_that_cannot_be_a_key_renders_the_page_every_time(app, world, caplog):
    calls = []
    with app.test_request_context("/en/cases/"):
        from flask_login import login_user

        login_user(world["customer"])
        for _ in range(2):
            html = kept_pages.page("odd", ([{"a": 1}],), lambda: calls.append(1) or "x")
            assert html == "x"
    assert len(calls) == 2 and "not kept" in caplog.text
