"""What a case page and its PDF show of the shipment, and where it goes.

The engineer records the shipment in the status changes (``workflow``): the
carrier and waybill when the replacement is sent, the delivery (which starts
the return clock) and the waybill of the returned unit. The customer sees the
same facts on the case page and in the PDF, not only in an e-mail.

The delivery or site address and the on-site contact person are asked on the
new-case form when the contract's service ships or comes on site (prefilled
from the company's last case that had them) and may be changed by the customer
until the replacement is sent.
"""

from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..audit import audit
from ..db import db
from ..models import SupportCase, User

#: After these, the replacement is on its way: the address no longer changes here.
SHIPPED_STATUSES = ("replacement_sent", "awaiting_return", "closed")


def facts(case: SupportCase) -> list[tuple[str, object, bool]]:
    """(label, value, is a moment) for each shipment fact the case has."""
    rows = (
        (_l("Replacement due by"), case.delivery_due_at, True),
        (_l("Replacement sent"), case.shipped_at, True),
        (_l("Carrier"), case.carrier, False),
        (_l("Waybill number"), case.waybill, False),
        (_l("Replacement delivered"), case.delivered_at, True),
        (_l("Faulty unit to be returned by"), case.return_due_at, True),
        (_l("Waybill of the returned unit"), case.return_waybill, False),
        (_l("Faulty unit returned"), case.returned_at, True),
    )
    return [(str(label), value, moment) for label, value, moment in rows if value]


def site_editable(case: SupportCase) -> bool:
    """The customer may still change where the replacement goes."""
    return case.shipped_at is None and case.status not in SHIPPED_STATUSES


def last_site(company_id: int) -> dict:
    """The address and on-site contact of the company's last case that had them."""
    row = (
        SupportCase.select(
            SupportCase.site_address,
            SupportCase.site_contact_name,
            SupportCase.site_contact_phone,
        )
        .where((SupportCase.company == company_id) & (SupportCase.site_address != ""))
        .order_by(SupportCase.created_at.desc(), SupportCase.id.desc())
        .first()
    )
    if row is None:
        return {}
    return {
        "site_address": row.site_address,
        "site_contact_name": row.site_contact_name,
        "site_contact_phone": row.site_contact_phone,
    }


def set_site(case: SupportCase, actor: User, fields: dict, now: datetime) -> bool:
    """Change the address and on-site contact unless the replacement has left
    meanwhile (a conditional update); False when it had."""
    with db.atomic():
        changed = (
            SupportCase.update(**fields, last_activity_at=now)
            .where(
                (SupportCase.id == case.id)
                & SupportCase.shipped_at.is_null()
                & SupportCase.status.not_in(SHIPPED_STATUSES)
            )
            .execute()
        )
        if changed:
            for name, value in fields.items():
                setattr(case, name, value)
            audit("case_site_changed", actor=actor, case=case, object_type="case")
    return bool(changed)
