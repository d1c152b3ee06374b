"""The administrators' audit log (/admin/audit, hezo/admin/audit_log.py):
newest first, paged, filtered, readable, exported as a safe CSV."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from playhouse.test_utils import count_queries

from hezo.audit import audit
from hezo.models import AuditEvent

from .factories import (
    login,
    make_case_with_file,
    make_company,
    make_contract,
    make_user,
)


@pytest.fixture
def world(app, dbconn):
    a = make_company("5260181596", "Firma Alfa")
    b = make_company("6281948218", "Firma Beta")
    contract = make_contract(customer=a, serials=("SN-A",))
    ala = make_user(company=a, email="ala@alfa.pl")
    bob = make_user(company=b, email="bob@beta.pl")
    admin = make_user(role="admin", company=None, email="szef@hezo.pl")
    case, _ = make_case_with_file(app, ala, contract, "ala", False)
    AuditEvent.delete().execute()  # only the events below
    at = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)  # 12:00 in Warsaw
    audit("case_escalated", actor=ala, case=case, details="Nic nie działa", now=at)
    phone = '{"field": "phone", "old": "", "new": "+48 600 100 200"}'
    for days, action, about, details in (
        (1, "profile_changed", ("user", bob.id), phone),
        (2, "partner_contracts_read", ("company", a.id), '=HYPERLINK("http://x")'),
    ):
        audit(
            action,
            actor=bob,
            object_type=about[0],
            object_id=about[1],
            details=details,
            now=at + timedelta(days=days),
        )
    audit("privacy_user_erased", object_type="user", object_id=ala.id, now=at)
    client = app.test_client()
    login(client, admin)
    return {"client": client, "ala": ala, "bob": bob, "case": case, "a": a, "at": at}


def listed(client, query="", lang="en"):
    response = client.get(f"/{lang}/admin/audit{query}")
    return response, response.get_data(as_text=True)


def test_the_log_lists_events_newest_first_readably(world):
    response, html = listed(world["client"], lang="pl")
    assert response.status_code == 200
    kinds = [
        part.split('"')[0]
        for part in html.split('data-testid="audit-event" data-kind="')[1:]
    ]
    # Two at the same moment: the one recorded last comes first.
    assert kinds == [
        "partner_contracts_read",
        "profile_changed",
        "privacy_user_erased",
        "case_escalated",
    ]
    assert "sprawa eskalowana" in html  # the kind's words, in Polish
    assert "10.03.2026, 12:00" in html  # 11:00 UTC, in Warsaw, as elsewhere
    assert world["case"].number in html and "Firma Alfa" in html
    assert "bob@beta.pl" in html and "+48 600 100 200" in html
    assert "sam portal" in html  # an event of nobody: the portal's own
    assert "dotyczy: Jan" in html and "ala@alfa.pl" in html  # whom it is about


def test_filters_by_person_company_case_kind_and_warsaw_days(world):
    client = world["client"]

    def kinds(query):
        response, html = listed(client, query)
        assert response.status_code == 200, query
        return sorted(p.split('"')[0] for p in html.split('data-kind="')[1:])

    assert kinds("?person=BOB@beta") == ["partner_contracts_read", "profile_changed"]
    # The company by NIP in any notation, or by name: its case, its people,
    # events about it and about its people.
    alfa = ["case_escalated", "partner_contracts_read", "privacy_user_erased"]
    assert kinds("?company=526-018-15-96") == alfa
    assert kinds("?company=alfa") == alfa
    assert kinds(f"?case={world['case'].number.lower()}") == ["case_escalated"]
    assert kinds("?kind=profile_changed") == ["profile_changed"]
    assert kinds("?from=2026-03-11&to=2026-03-11") == ["profile_changed"]
    assert kinds("?to=2026-03-10") == ["case_escalated", "privacy_user_erased"]
    # 23:30 UTC on the 10th is the 11th in Warsaw.
    audit("totp_reset", now=datetime(2026, 3, 10, 23, 30, tzinfo=UTC))
    assert "totp_reset" in kinds("?from=2026-03-11&to=2026-03-11")
    assert "totp_reset" not in kinds("?to=2026-03-10")


@pytest.mark.parametrize(
    "query",
    [
        "?from=2026-13-45",
        "?to=yesterday",
        "?from=2026-03-12&to=2026-03-10",
        "?kind=<script>",
        "?from=99999-01-01",
    ],
)
def test_bad_filters_are_left_out_with_a_translated_message(world, query):
    response, html = listed(world["client"], query, lang="pl")
    assert response.status_code == 400
    assert 'data-testid="error-summary"' in html
    assert "Te filtry pominięto" in html
    assert 'data-testid="audit-event"' in html  # the rest of the list is shown
    assert world["client"].get(f"/pl/admin/audit.csv{query}").status_code == 400


def test_the_list_is_paged_with_its_filters_kept(world, app):
    for _ in range(60):
        audit("watcher_added", actor=world["ala"], case=world["case"], now=world["at"])
    _, html = listed(world["client"], "?kind=watcher_added")
    assert html.count('data-testid="audit-event"') == 50
    assert "kind=watcher_added" in html and "page=2" in html
    _, html = listed(world["client"], "?kind=watcher_added&page=2")
    assert html.count('data-testid="audit-event"') == 10


def test_the_query_count_does_not_grow_with_the_events(world, app):
    client = world["client"]

    def counted(query=""):
        with app.app_context(), count_queries(only_select=True) as counter:
            assert client.get(f"/en/admin/audit{query}").status_code == 200
        return counter.count

    few = [counted(), counted("?company=alfa")]
    assert all(few)
    a, ala = world["a"], world["ala"]
    for n in range(40):
        other = make_company(name=f"Klient {n}")
        user = make_user(company=other)
        audit("profile_changed", actor=user, object_type="user", object_id=user.id)
        audit(
            "partner_contracts_read",
            actor=ala,
            object_type="company",
            object_id=other.id,
        )
        audit("case_assigned", actor=user, case=world["case"])
    audit("partner_contracts_read", actor=ala, object_type="company", object_id=a.id)
    assert [counted(), counted("?company=alfa")] == few


def test_the_csv_holds_the_filtered_events_safe_for_spreadsheets(world):
    client = world["client"]
    response = client.get("/en/admin/audit.csv?person=bob")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(
        csv.reader(
            io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"
        )
    )
    header, *lines = rows
    assert [r[header.index("kind")] for r in lines] == [
        "partner_contracts_read",
        "profile_changed",
    ]
    read = lines[0]
    assert read[header.index("details")] == '\'=HYPERLINK("http://x")'
    assert read[header.index("company")] == "Firma Alfa"
    assert read[header.index("actor_email")] == "bob@beta.pl"
    assert lines[1][header.index("time_warsaw")] == "2026-03-11 12:00:00"
    # "+48 …" in the details would be a formula too.
    assert all(cell[:1] not in "=+-@" for line in lines for cell in line if cell)
    # The download is itself in the log, with its filters.
    exported = AuditEvent.get(AuditEvent.action == "audit_log_exported")
    assert "bob" in exported.details


def test_only_administrators_see_the_log(app, world):
    engineer = make_user(role="engineer", company=None)
    client = app.test_client()
    login(client, engineer)
    assert client.get("/pl/admin/audit").status_code in (403, 404)
    assert client.get("/pl/admin/audit.csv").status_code in (403, 404)
    assert (
        not AuditEvent.select()
        .where(AuditEvent.action == "audit_log_exported")
        .exists()
    )
    _, html = listed(world["client"], lang="pl")
    assert 'href="/pl/admin/audit"' in world["client"].get("/pl/admin/").get_data(True)


def test_every_action_the_portal_records_has_words_on_the_log():
    """An action recorded anywhere in hezo/ (``audit("name", ...)``) is
    shown in words, not as its code."""
    import re
    from pathlib import Path

    from hezo.admin.audit_log import KINDS

    source = " ".join(
        p.read_text(encoding="utf-8")
        for p in (Path(__file__).parent.parent / "hezo").rglob("*.py")
    )
    recorded = set(re.findall(r'audit\(\s*"([a-z_]+)"', source))
    recorded |= set(re.findall(r'action = "([a-z_]+)"', source))
    assert recorded and not recorded - set(KINDS)


def test_an_event_of_no_case_or_company_says_so_rather_than_an_empty_label(world):
    """On a phone each cell shows its column's label: an event about no case
    or company (a closed day added) shows a dash there, not a bare label."""
    boss = make_user(role="admin", company=None, email="kadry@hezo.pl")
    later = world["at"] + timedelta(days=5)
    audit("catalogue_closed_day_added", actor=boss, details="2026-12-24", now=later)
    _response, html = listed(world["client"], lang="pl")
    first = html.split('data-testid="audit-event"')[1]
    assert 'data-kind="catalogue_closed_day_added"' in first
    cell = first.split('data-label="Zgłoszenie lub firma"')[1].split("</td>")[0]
    assert 'data-testid="no-case-or-company">—<' in cell
    # The other events name theirs, without the dash.
    assert html.count('data-testid="no-case-or-company"') == 1
