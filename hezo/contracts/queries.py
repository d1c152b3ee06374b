"""Contract selects scoped to the viewer's company."""

from dataclasses import dataclass

from flask import abort
from peewee import JOIN, OP, SQL, fn

from ..db import is_sqlite
from ..models import Company, Contract, Device

Partner = Company.alias()
PAGE_SIZE = 20
MAX_SEARCH_LENGTH = 100


@dataclass(frozen=True)
class ContractPage:
    """One page of a contract list; ``page`` is 1-based and within ``1..pages``."""

    contracts: list
    page: int
    pages: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def normalise_search(text: str | None) -> str:
    """The search text as typed, stripped, inner whitespace collapsed, capped."""
    return " ".join((text or "").split())[:MAX_SEARCH_LENGTH]


def _contains_upper(column, term: str):
    """``column`` (already upper-case) contains ``term`` upper-cased, as LIKE.

    Case cannot differ, so PostgreSQL gets a plain LIKE: its ILIKE over a
    company's thousands of serials costs half as much again. (peewee's ILIKE
    is SQLite's plain LIKE; its LIKE would be GLOB.) Wildcards in ``term`` are
    escaped by peewee.
    """
    match = column.contains(term.upper())
    if not is_sqlite():
        match.op = OP.LIKE
    return match


def _matching(term: str):
    """Contracts whose number, legacy number, a serial or a product contains ``term``.

    Devices are matched in a correlated ``EXISTS``, so only the devices of the
    company's own contracts are read (an ``IN`` list would scan every serial
    of every company). Serials are stored upper-case; products are compared
    upper-cased.
    """
    devices = Device.select(SQL("1")).where(
        (Device.contract == Contract.id)
        & (
            _contains_upper(Device.serial, term)
            | _contains_upper(fn.UPPER(Device.product), term)
        )
    )
    return (
        Contract.number.contains(term)
        | Contract.legacy_number.contains(term)
        | fn.EXISTS(devices)
    )


def company_contracts(company_id: int, search: str = ""):
    """The company's contracts, newest end date first, matching ``search`` if given.

    Each row carries its partner (``contract.partner``, joined, or None) and
    ``device_count`` (a scalar subquery), so listing them costs one query.
    """
    devices = Device.select(fn.COUNT(Device.id)).where(Device.contract == Contract.id)
    query = (
        Contract.select(Contract, Partner, devices.alias("device_count"))
        .join(Partner, JOIN.LEFT_OUTER, on=(Contract.partner == Partner.id))
        .where(Contract.customer == company_id)
        .order_by(Contract.end_date.desc(), Contract.number, Contract.id)
    )
    if search:
        query = query.where(_matching(search))
    return query


def paginate(query, page: int, per_page: int = PAGE_SIZE) -> ContractPage:
    """Two queries: a count, then the rows of ``page`` (clamped to the valid range).

    ``query`` is a contract select such as :func:`company_contracts`; the count
    drops its columns and order. An empty result is one page with no rows.
    """
    total = query.select(Contract.id).order_by().count()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = list(query.paginate(page, per_page)) if total else []
    return ContractPage(contracts=rows, page=page, pages=pages, total=total)


def get_contract_or_404(contract_id: int, company_id: int) -> Contract:
    """The contract if it belongs to ``company_id``, with its partner joined.

    Any other contract, existing or not, answers 404 so that ids of other
    companies cannot be probed.
    """
    contract = (
        Contract.select(Contract, Partner)
        .join(Partner, JOIN.LEFT_OUTER, on=(Contract.partner == Partner.id))
        .where((Contract.id == contract_id) & (Contract.customer == company_id))
        .get_or_none()
    )
    if contract is None:
        abort(404)
    return contract


def contract_devices(contract: Contract) -> list[Device]:
    """The devices a contract covers, ordered by serial number (one query)."""
    return list(
        Device.select()
        .where(Device.contract == contract.id)
        .order_by(Device.serial, Device.id)
    )
