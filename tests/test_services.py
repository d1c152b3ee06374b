"""Writes go through services that take the actor and the moment (issue 15,
item 5): what they record, and that the views themselves write nothing."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest

import hezo
from hezo.accounts import services as account_services
from hezo.cases import services as case_services
from hezo.cases.workflow import StaleCase
from hezo.db import utcnow
from hezo.models import AuditEvent, ContactRequest, OutboxMessage, SupportCase, User

from .factories import login
from .test_staff import make_world, new_case


@pytest.fixture
def world(dbconn):
    return make_world()


def assignments(case):
    return list(
        AuditEvent.select()
        .where((AuditEvent.case == case) & (AuditEvent.action == "case_assigned"))
        .order_by(AuditEvent.id)
    )


def test_assigning_a_case_records_who_gave_it_to_whom(client, world):
    case, engineer = new_case(world), world["engineer"]
    login(client, engineer)
    data = {"assignee": str(engineer.id), "seen": "none"}
    assert (
        client.post(f"/pl/staff/cases/{case.number}/assign", data=data).status_code
        == 303
    )
    (event,) = assignments(case)
    assert (event.actor_id, event.object_id) == (engineer.id, str(engineer.id))
    client.post(
        f"/pl/staff/cases/{case.number}/assign",
        data={"assignee": "", "seen": str(engineer.id)},
    )
    assert [e.object_id for e in assignments(case)] == [str(engineer.id), ""]
    assert SupportCase.get_by_id(case.id).assignee_id is None


def test_assignment_is_recorded_at_the_services_moment(world):
    case, engineer = new_case(world), world["engineer"]
    then = utcnow() - timedelta(hours=3)
    case_services.assign_case(case, engineer, engineer.id, None, then)
    assert assignments(case)[0].created_at == then


@pytest.mark.parametrize("whom", ["customer", "nobody"])
def test_assigning_to_anyone_but_staff_writes_nothing(world, whom):
    case = new_case(world)
    engineer_id = world["customer"].id if whom == "customer" else 10**9
    with pytest.raises(case_services.CaseError):
        case_services.assign_case(case, world["engineer"], engineer_id, None, utcnow())
    assert SupportCase.get_by_id(case.id).assignee_id is None
    assert assignments(case) == []


def test_a_stale_assignment_records_nothing(world):
    case, engineer = new_case(world), world["engineer"]
    with pytest.raises(StaleCase):
        case_services.assign_case(case, engineer, engineer.id, engineer.id, utcnow())
    assert assignments(case) == []


def test_notification_setting_is_recorded_with_its_author(client, world):
    customer = world["customer"]
    login(client, customer)
    client.post("/pl/account/notifications", data={"notify": "0"})
    client.post("/pl/account/notifications", data={"notify": "1"})
    events = AuditEvent.select().where(AuditEvent.object_id == str(customer.id))
    assert [(e.action, e.actor_id) for e in events.order_by(AuditEvent.id)] == [
        ("notifications_off", customer.id),
        ("notifications_on", customer.id),
    ]


def test_contact_request_is_stored_at_the_services_moment_and_mailed(dbconn):
    then = utcnow() - timedelta(minutes=5)
    account_services.send_contact_request(
        {"name": "Jan", "email": "jan@example.pl", "message": "Oferta?"}, then
    )
    stored = ContactRequest.get()
    assert (stored.created_at, stored.name, stored.company) == (then, "Jan", "")
    assert OutboxMessage.get().recipient == "pomoc@myhezo.pl"


def test_partner_read_and_export_are_recorded_at_the_services_moment(world):
    case, then = new_case(world), utcnow() - timedelta(minutes=1)
    partner = User.create(
        email="p@netpartner.pl",
        first_name="P",
        last_name="P",
        role="partner",
        company=world["contract"].partner,
    )
    case_services.record_partner_read(case, partner, "partner_case_read", then)
    case_services.record_partner_read(
        case, world["engineer"], "partner_case_read", then
    )
    case_services.record_export(case, world["customer"], then)
    events = AuditEvent.select().where(AuditEvent.case == case).order_by(AuditEvent.id)
    assert [(e.action, e.actor_id, e.created_at) for e in events] == [
        ("partner_case_read", partner.id, then),
        ("case_exported", world["customer"].id, then),
    ]


# -- views write nothing themselves ------------------------------------------------

WRITES = {"create", "insert", "insert_many", "update", "delete", "atomic", "save"}
WRITERS = {"audit", "queue_mail", "queue_staff_mail"}


def writes_in(path: Path) -> list[str]:
    """Calls in a module that write: a model's create/insert/update/delete,
    ``db.atomic``, ``.save()`` and the audit and mail writers."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in WRITERS:
            found.append((node.lineno, f"{func.id}()"))
        elif (
            isinstance(func, ast.Attribute)
            and func.attr in WRITES
            and isinstance(func.value, ast.Name)
            and (func.value.id[:1].isupper() or func.value.id == "db")
        ):
            found.append((node.lineno, f"{func.value.id}.{func.attr}()"))
    return [f"{path.name}:{line} {call}" for line, call in sorted(found)]


def test_no_view_writes_to_the_database_itself():
    package = Path(hezo.__file__).parent
    views = [*package.glob("*/views.py"), package / "staff" / "accounts.py"]
    assert [w for path in views for w in writes_in(path)] == []


def test_the_write_detector_sees_a_views_writes(tmp_path):
    path = tmp_path / "views.py"
    path.write_text(
        "def v():\n    User.update(x=1).where(True).execute()\n"
        "    with db.atomic():\n        audit('a')\n"
        "    response.vary.update(('Host',))\n"
    )
    assert writes_in(path) == [
        "views.py:2 User.update()",
        "views.py:3 db.atomic()",
        "views.py:4 audit()",
    ]
