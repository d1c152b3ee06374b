"""Contract selects scoped to the viewer's company."""

from dataclasses import dataclass
from functools import cache

from flask import abort
from peewee import JOIN, SQL, fn

from ..db import Baked, fetch_all, like_pattern, slot, slot_contains
from ..identifiers import strip_serial_prefix
from ..models import Company, Contract, Device
from ..paging import page_count

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
    """The search text as typed, stripped, inner whitespace collapsed, capped;
    a serial typed in the transitional ``(H)`` notation becomes the new one."""
    return strip_serial_prefix(" ".join((text or "").split()))[:MAX_SEARCH_LENGTH]


def contract_page(company_id: int, search: str, page: int) -> ContractPage:
    """Page ``page`` (from 1) of the company's contracts, newest end date
    first, matching ``search`` if given (its number, legacy number, a serial or
    a product contains it).

    Each row carries its partner (``contract.partner``, joined, or None) and
    ``device_count``. The count and the rows are read together (one round
    trip on PostgreSQL); a page past the end is read again as the last one.
    """
    count, rows = _statements(bool(search))
    values = dict(
        company=company_id,
        text=like_pattern(search),
        upper=like_pattern(search.upper()),
        start=(page - 1) * PAGE_SIZE,
    )
    ((total,),), contracts = fetch_all(count.bind(**values), rows.bind(**values))
    pages = page_count(total, PAGE_SIZE)
    if page > pages:
        page, values["start"] = pages, (pages - 1) * PAGE_SIZE
        contracts = list(rows.bind(**values))
    return ContractPage(contracts=contracts, page=page, pages=pages, total=total)


@cache
def _statements(searching: bool) -> tuple[Baked, Baked]:
    """The contract list's count and page, baked (slots: ``company``, the
    search's ``text`` and ``upper`` patterns, ``start``)."""
    devices = Device.select(fn.COUNT(Device.id)).where(Device.contract == Contract.id)
    query = (
        Contract.select(
            Contract, Partner.id, Partner.name, devices.alias("device_count")
        )
        .join(Partner, JOIN.LEFT_OUTER, on=(Contract.partner == Partner.id))
        .where(Contract.customer == slot("company"))
    )
    if searching:
        query = query.where(_matching())
    count = query.select(fn.COUNT(SQL("*"))).tuples()
    rows = query.order_by(Contract.end_date.desc(), Contract.number, Contract.id)
    return Baked(count), Baked(rows.offset(slot("start")).limit(PAGE_SIZE))


def _matching():
    """Contracts whose number, legacy number, a serial or a product contains
    the search text.

    Devices are matched in a correlated ``EXISTS``, so only the devices of the
    company's own contracts are read (an ``IN`` list would scan every serial
    of every company). Serials are stored upper-case, products are compared
    upper-cased, and the text upper-cased: as case cannot differ, PostgreSQL
    gets a plain LIKE, as its ILIKE over a company's thousands of serials costs
    half as much again.
    """
    devices = Device.select(SQL("1")).where(
        (Device.contract == Contract.id)
        & (
            slot_contains(Device.serial, "upper", same_case=True)
            | slot_contains(fn.UPPER(Device.product), "upper", same_case=True)
        )
    )
    return (
        slot_contains(Contract.number, "text")
        | slot_contains(Contract.legacy_number, "text")
        | fn.EXISTS(devices)
    )


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
