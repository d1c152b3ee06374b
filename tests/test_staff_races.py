"""Two engineers, one case: a transition or an assignment applies only if the
case is still in the state the engineer saw; the other gets 409 and nothing
is written for it (no history row, no e-mail)."""

import threading

import pytest

from hezo.cases.workflow import StaleCase, transition
from hezo.db import db, utcnow
from hezo.models import OutboxMessage, StatusChange, SupportCase

from .factories import login, make_user
from .test_staff import make_world, new_case


@pytest.fixture
def world(dbconn):
    return make_world()


@pytest.fixture
def engineers(app, world):
    """Two engineers, each signed in with a client of their own."""
    second = make_user(role="engineer", company=None)
    clients = []
    for engineer in (world["engineer"], second):
        client = app.test_client()
        login(client, engineer)
        clients.append(client)
    return list(zip((world["engineer"], second), clients, strict=True))


def history(case):
    return list(
        StatusChange.select().where(StatusChange.case == case).order_by(StatusChange.id)
    )


def customer_mails(world):
    return (
        OutboxMessage.select()
        .where(OutboxMessage.recipient == world["customer"].email)
        .count()
    )


def at_once(posts) -> list:
    """POST each (client, url, data) from a thread of its own, all released
    together by a barrier (each request borrows its own connection); the
    responses in order."""
    db.close()  # the test body's connection: the threads take their own
    barrier = threading.Barrier(len(posts))
    responses = [None] * len(posts)

    def post(index, client, url, data):
        barrier.wait()
        responses[index] = client.post(url, data=data)

    threads = [threading.Thread(target=post, args=(i, *p)) for i, p in enumerate(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.connect(reuse_if_open=True)
    return responses


def test_stale_transition_is_refused_with_the_current_state(world, engineers):
    case = new_case(world)
    (_, first), (_, second) = engineers
    url = f"/pl/staff/cases/{case.number}/transition"
    mails = customer_mails(world)
    assert (
        first.post(url, data={"status": "in_verification", "seen": "new"}).status_code
        == 303
    )
    stale = second.post(url, data={"status": "resolved", "seen": "new"})
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Zgłoszenie właśnie się zmieniło" in html and "w weryfikacji" in html
    assert SupportCase.get_by_id(case.id).status == "in_verification"
    assert [c.to_status for c in history(case)] == ["new", "in_verification"]
    assert customer_mails(world) == mails + 1


def test_stale_transition_with_htmx_answers_the_panel(world, engineers):
    case = new_case(world)
    (engineer, first), (_, second) = engineers
    transition(case, engineer, "in_verification", utcnow())
    stale = second.post(
        f"/pl/staff/cases/{case.number}/transition",
        data={"status": "in_verification", "seen": "new"},
        headers={"HX-Request": "true"},
    )
    html = stale.get_data(as_text=True)
    assert stale.status_code == 409 and "<html" not in html
    assert 'id="staff-panel"' in html and 'value="in_verification"' in html
    assert len(history(case)) == 2


def test_transition_without_the_seen_state_is_refused(world, engineers):
    case = new_case(world)
    (_, client), _ = engineers
    response = client.post(
        f"/pl/staff/cases/{case.number}/transition", data={"status": "resolved"}
    )
    assert response.status_code == 400
    assert SupportCase.get_by_id(case.id).status == "new"


def test_transition_refuses_a_seen_state_the_case_has_left(dbconn, world):
    case = new_case(world)
    with pytest.raises(StaleCase):
        transition(
            case, world["engineer"], "in_verification", utcnow(), seen="resolved"
        )
    assert len(history(case)) == 1


def test_stale_assignment_is_refused(world, engineers):
    case = new_case(world)
    (first_engineer, first), (second_engineer, second) = engineers
    url = f"/pl/staff/cases/{case.number}/assign"
    mine = {"assignee": str(first_engineer.id), "seen": "none"}
    assert first.post(url, data=mine).status_code == 303
    stale = second.post(url, data={"assignee": str(second_engineer.id), "seen": "none"})
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "przypisane na nowo" in html and first_engineer.full_name in html
    assert SupportCase.get_by_id(case.id).assignee_id == first_engineer.id
    # With the state it now sees, the second engineer may take the case over.
    again = {"assignee": str(second_engineer.id), "seen": str(first_engineer.id)}
    assert second.post(url, data=again).status_code == 303
    assert SupportCase.get_by_id(case.id).assignee_id == second_engineer.id


@pytest.mark.parametrize("rounds", [4])
def test_parallel_transitions_from_one_state_apply_once(world, engineers, rounds):
    (_, first), (_, second) = engineers
    for _round in range(rounds):
        case = new_case(world)
        url = f"/pl/staff/cases/{case.number}/transition"
        mails = customer_mails(world)
        responses = at_once(
            [
                (first, url, {"status": "in_verification", "seen": "new"}),
                (second, url, {"status": "resolved", "seen": "new"}),
            ]
        )
        assert sorted(r.status_code for r in responses) == [303, 409]
        winner = ("in_verification", "resolved")[
            [r.status_code for r in responses].index(303)
        ]
        assert SupportCase.get_by_id(case.id).status == winner
        assert [c.to_status for c in history(case)] == ["new", winner]
        assert customer_mails(world) == mails + 1


@pytest.mark.parametrize("rounds", [4])
def test_parallel_assignments_apply_once(world, engineers, rounds):
    for _round in range(rounds):
        case = new_case(world)
        url = f"/pl/staff/cases/{case.number}/assign"
        responses = at_once(
            [
                (client, url, {"assignee": str(engineer.id), "seen": "none"})
                for engineer, client in engineers
            ]
        )
        codes = [r.status_code for r in responses]
        assert sorted(codes) == [303, 409]
        winner = engineers[codes.index(303)][0]
        assert SupportCase.get_by_id(case.id).assignee_id == winner.id
