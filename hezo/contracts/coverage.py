"""Which contract a number names and which serial numbers it covers.

The one lookup behind registration by contract proof, the engineers' recovery
check, the case forms and the legacy migration. Numbers and serials are taken
in either notation (``hezo.identifiers``); an unknown one gives None.
"""

from ..identifiers import normalize_serial
from ..models import Company, Contract, Device


def find_contract(
    number: str, customer: Company | int | None = None
) -> Contract | None:
    """The contract whose number, new or legacy notation, is ``number`` as
    typed (any case, surrounding spaces), or None; with ``customer``, only
    one of that company's."""
    query = Contract.numbered(number)
    if customer is not None:
        query = query.where(Contract.customer == customer)
    return query.first()


def covered_device(
    contract: Contract | int | None, serial: str | None
) -> Device | None:
    """The device of ``serial`` (either notation) on ``contract``, or None
    (also for no contract)."""
    if contract is None:
        return None
    return Device.get_or_none(
        (Device.contract == contract) & (Device.serial == normalize_serial(serial))
    )
