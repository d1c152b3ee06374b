"""Contract selects scoped to the viewer's company."""

from flask import abort
from peewee import JOIN, SQL, fn

from ..db import contains_same_case, fetch_all
from ..identifiers import strip_serial_prefix
from ..models import Company, Contract, Device
from ..paging import Page, page_count

Partner = Company.alias()
PAGE_SIZE = 20
MAX_SEARCH_LENGTH = 100


def normalise_search(text: str | None) -> str:
    """The search text as typed, stripped, inner whitespace collapsed, capped;
    a serial typed in the transitional ``(H)`` notation becomes the new one."""
    return strip_serial_prefix(" ".join((text or "").split()))[:MAX_SEARCH_LENGTH]


def contract_page(company_id: int, search: str, page: int) -> Page:
    """Page ``page`` (from 1) of the company's contracts, newest end date
    first, matching ``search`` if given (its number, legacy number, a serial or
    a product contains it).

    Each row carries its partner (``contract.partner``, joined, or None) and
    ``device_count``. The count and the rows are read together (one round
    trip on PostgreSQL); a page past the end is read again as the last one.
    """
    query = _company_contracts(company_id, search)
    count = query.select(fn.COUNT(SQL("*"))).tuples()
    ((total,),), contracts = fetch_all(count, _page_of(query, page))
    pages = page_count(total, PAGE_SIZE)
    if page > pages:
        page = pages
        contracts = list(_page_of(query, page))
    return Page(rows=contracts, page=page, pages=pages, total=total)


#: What a contract list shows of each contract (not its customer, who is the
#: viewer's company, nor its timestamps).
LIST_COLUMNS = (
    Contract.id,
    Contract.number,
    Contract.legacy_number,
    Contract.service_code,
    Contract.start_date,
    Contract.end_date,
    Contract.partner,
    Partner.id,
    Partner.name,
)


def _company_contracts(company_id: int, search: str):
    """The company's contracts matching ``search`` (all if empty), each with
    its partner's id and name and its ``device_count``."""
    devices = Device.select(fn.COUNT(Device.id)).where(Device.contract == Contract.id)
    query = (
        Contract.select(*LIST_COLUMNS, devices.alias("device_count"))
        .join(Partner, JOIN.LEFT_OUTER, on=(Contract.partner == Partner.id))
        .where(Contract.customer == company_id)
    )
    return query.where(_matching(search)) if search else query


def _page_of(query, page: int):
    return (
        query.order_by(Contract.end_date.desc(), Contract.number, Contract.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )


def _matching(search: str):
    """Contracts whose number, legacy number, a serial or a product contains
    ``search``.

    Devices are matched in a correlated ``EXISTS``, so only the devices of the
    company's own contracts are read (an ``IN`` list would scan every serial
    of every company). Serials are stored upper-case, products are compared
    upper-cased, and the text upper-cased: as case cannot differ, PostgreSQL
    gets a plain LIKE, as its ILIKE over a company's thousands of serials costs
    half as much again.
    """
    upper = search.upper()
    devices = Device.select(SQL("1")).where(
        (Device.contract == Contract.id)
        & (
            contains_same_case(Device.serial, upper)
            | contains_same_case(fn.UPPER(Device.product), upper)
        )
    )
    return (
        Contract.number.contains(search)
        | Contract.legacy_number.contains(search)
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
