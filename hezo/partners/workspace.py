"""The partner's workspace: the contracts it sold, their renewals and serials,
and which cases it may see (plain peewee queries).

A partner sees contract data (numbers, customer company, service, period,
serials), never the customers' people. Every read and export is an audit
event per customer company concerned, shown on that customer's sharing page.
"""

import csv
import io
from collections import defaultdict
from datetime import date, timedelta

from peewee import JOIN

from ..audit import audit
from ..cases.queries import partner_visible
from ..db import db
from ..models import AuditEvent, Company, Contract, Device, SupportCase, User

RENEWALS_WITHIN = timedelta(days=90)
PAGE_SIZE = 50
#: Audit actions of the workspace (object: the customer company).
CONTRACT_ACTIONS = ("partner_contracts_read", "partner_renewals_export")


def case_customers(partner_company_id: int) -> list[Company]:
    """Customers with at least one case the partner may see (the list's filter)."""
    return list(
        Company.select()
        .join(SupportCase, on=(SupportCase.company == Company.id))
        .join(Contract, on=(SupportCase.contract == Contract.id))
        .where(partner_visible(partner_company_id))
        .distinct()
        .order_by(Company.name)
    )


def _sold(partner_company_id: int):
    return (
        Contract.select(Contract, Company)
        .join(Company, on=(Contract.customer == Company.id))
        .where(Contract.partner == partner_company_id)
    )


def sold_contracts(partner_company_id: int, page: int) -> tuple[list, int]:
    """A page of the contracts the partner sold (latest end first) and the count."""
    query = _sold(partner_company_id)
    total = query.count()
    rows = list(
        query.order_by(Contract.end_date.desc(), Contract.number).paginate(
            page, PAGE_SIZE
        )
    )
    return rows, total


def renewals(partner_company_id: int, today: date) -> list[Contract]:
    """Its contracts that end within the next 90 days (today included)."""
    return list(
        _sold(partner_company_id)
        .where(
            (Contract.end_date >= today)
            & (Contract.end_date <= today + RENEWALS_WITHIN)
        )
        .order_by(Contract.end_date, Contract.number)
    )


def serials_of(contracts) -> dict[int, list[Device]]:
    """The devices of each contract, in one query."""
    by_contract = defaultdict(list)
    ids = [c.id for c in contracts]
    if ids:
        for device in (
            Device.select()
            .where(Device.contract.in_(ids))
            .order_by(Device.contract, Device.serial)
        ):
            by_contract[device.contract_id].append(device)
    return by_contract


def reportable_contracts(partner_company_id: int, today: date) -> list[Contract]:
    """Active contracts the partner sold: those it may report a case on."""
    return list(
        _sold(partner_company_id)
        .where((Contract.start_date <= today) & (Contract.end_date >= today))
        .order_by(Contract.number)
    )


def audit_contracts(actor, action: str, contracts, details: str = "") -> None:
    """One audit event per customer company whose contracts ``actor`` saw."""
    customers = sorted({c.customer_id for c in contracts})
    with db.atomic():
        for customer_id in customers:
            numbers = ", ".join(
                c.number for c in contracts if c.customer_id == customer_id
            )
            audit(
                action,
                actor=actor,
                object_type="company",
                object_id=customer_id,
                details=(details + " " + numbers).strip()[:2000],
            )


def renewals_csv(contracts, serials, status_label) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            "contract",
            "legacy_number",
            "customer",
            "customer_nip",
            "service",
            "start",
            "end",
            "status",
            "serials",
        ]
    )
    for c in contracts:
        writer.writerow(
            [
                _cell(c.number),
                _cell(c.legacy_number or ""),
                _cell(c.customer.name),
                c.customer.nip,
                _cell(c.service_code),
                c.start_date.isoformat(),
                c.end_date.isoformat(),
                status_label(c),
                _cell(" ".join(d.serial for d in serials.get(c.id, []))),
            ]
        )
    return "\ufeff" + out.getvalue()  # BOM: spreadsheets read it as UTF-8


def _cell(value: str) -> str:
    """No formula injection: a cell a spreadsheet would evaluate is quoted."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def contract_reads(company_id: int, limit: int = 100) -> list[AuditEvent]:
    """For the customer: partners' reads and exports of its contracts."""
    return list(
        AuditEvent.select(AuditEvent, User, Company)
        .join(User, on=(AuditEvent.actor == User.id))
        .join(Company, JOIN.LEFT_OUTER, on=(User.company == Company.id))
        .where(
            (AuditEvent.object_type == "company")
            & (AuditEvent.object_id == str(company_id))
            & AuditEvent.action.in_(CONTRACT_ACTIONS)
            & (User.role == "partner")
        )
        .order_by(AuditEvent.created_at.desc())
        .limit(limit)
    )
