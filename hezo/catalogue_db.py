"""The service catalogue's rows: loading them into the per-app cache of
``hezo/catalogue.py``, and the console's changes to custom variants and
closed days (each audited, each reloading this process's cache)."""

import logging
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from peewee import DatabaseError, IntegrityError, fn

from .audit import audit
from .catalogue import CatalogueCache, ServicePlan, Window
from .db import db
from .models import ClosedDay, Contract, ServiceVariant, User

logger = logging.getLogger(__name__)


def init_app(app) -> None:
    """Give the app its catalogue cache, loaded now (so no request pays for
    it); a database without the table yet (before ``init-db``) leaves the
    seed packages until the next refresh."""
    cache = CatalogueCache(load, app.config["CATALOGUE_REFRESH_SECONDS"])
    app.extensions["catalogue"] = cache
    was_closed = db.is_closed()
    try:
        cache.reload()
    finally:
        if was_closed and not db.is_closed():
            db.close()


def load() -> tuple[dict[str, ServicePlan], list[date]] | None:
    """(every catalogue row as a plan, the closed days), or None when they
    cannot be read (no table yet, database away) outside a transaction."""
    try:
        rows = list(ServiceVariant.select())
        closed = [d.day for d in ClosedDay.select(ClosedDay.day)]
    except DatabaseError as error:
        if db.in_transaction():
            raise
        logger.info("service catalogue not read: %s", error)
        return None
    return {row.code: plan_of(row) for row in rows}, closed


def plan_of(row: ServiceVariant) -> ServicePlan:
    return ServicePlan(
        code=row.code,
        name=row.name,
        name_pl=row.name_pl,
        support=row.support,
        replacement=row.replacement,
        onsite=row.onsite,
        hours=Window(row.days, row.opens, row.closes, row.holidays),
        response_hours=row.response_hours,
        custom=not row.package,
    )


def reload() -> None:
    """Read the catalogue again in this process (after a change)."""
    cache = current_app.extensions.get("catalogue")
    if cache is not None:
        cache.reload()


def packages_and_variants() -> tuple[list, list]:
    """The console's list: (packages, custom variants), each by code."""
    rows = list(ServiceVariant.select().order_by(ServiceVariant.code))
    return [r for r in rows if r.package], [r for r in rows if not r.package]


def variant(variant_id: int) -> ServiceVariant | None:
    """A custom variant by id (packages are not editable), or None."""
    return ServiceVariant.get_or_none(
        (ServiceVariant.id == variant_id) & (ServiceVariant.package == False)  # noqa: E712
    )


class CodeTaken(Exception):
    """Another package or variant has this code (in any letter case)."""


@dataclass
class VariantTerms:
    code: str
    name: str
    name_pl: str
    support: bool
    onsite: bool
    days: str
    opens: int
    closes: int
    holidays: bool
    response_hours: int
    replacement: str


def _code_taken(code: str, other_id: int | None) -> bool:
    query = ServiceVariant.select().where(fn.UPPER(ServiceVariant.code) == code.upper())
    if other_id is not None:
        query = query.where(ServiceVariant.id != other_id)
    return query.exists()


def save_variant(
    terms: VariantTerms, actor: User, now: datetime, row: ServiceVariant | None = None
) -> ServiceVariant:
    """Create a custom variant (``row`` None) or change one; audited. Open
    cases keep the terms they opened with (``SupportCase.service_terms``).
    Raises CodeTaken. Call inside the caller's transaction."""
    if _code_taken(terms.code, row.id if row else None):
        raise CodeTaken(terms.code)
    values = vars(terms) | {"updated_at": now}
    try:
        with db.atomic():
            if row is None:
                row = ServiceVariant.create(**values, package=False, created_at=now)
                action = "catalogue_variant_created"
            else:
                before = _described(row)
                ServiceVariant.update(**values).where(
                    ServiceVariant.id == row.id
                ).execute()
                row = ServiceVariant.get_by_id(row.id)
                action = "catalogue_variant_changed"
    except IntegrityError:
        raise CodeTaken(terms.code) from None
    details = _described(row)
    if action == "catalogue_variant_changed":
        details = f"{before} -> {details}"
    audit(
        action,
        actor,
        object_type="service_variant",
        object_id=row.code,
        details=details,
        now=now,
    )
    reload()
    return row


def contracts_naming(row: ServiceVariant) -> int:
    """How many contracts have the variant (by its code)."""
    return Contract.select().where(Contract.service_code == row.code).count()


def delete_variant(row: ServiceVariant, actor: User, now: datetime) -> int:
    """Delete a custom variant no contract names; audited. Returns how many
    contracts name it (0: deleted; otherwise nothing changes, since their
    cases' clocks read it). Cases keep their stored terms either way."""
    with db.atomic():
        naming = contracts_naming(row)
        if naming:
            return naming
        deleted = (
            ServiceVariant.delete()
            .where(
                (ServiceVariant.id == row.id) & (ServiceVariant.package == False)  # noqa: E712
            )
            .execute()
        )
        if deleted:
            audit(
                "catalogue_variant_deleted",
                actor,
                object_type="service_variant",
                object_id=row.code,
                details=_described(row),
                now=now,
            )
    reload()
    return 0


def _described(row: ServiceVariant) -> str:
    return (
        f"{row.code}: days={row.days} {row.opens}-{row.closes}"
        f" holidays={'closed' if row.holidays else 'open'}"
        f" response={row.response_hours}h replacement={row.replacement or '-'}"
        f" support={row.support} onsite={row.onsite}"
    )


def closed_days(since: date) -> list[ClosedDay]:
    """The closed days from ``since`` on, soonest first."""
    return list(
        ClosedDay.select().where(ClosedDay.day >= since).order_by(ClosedDay.day)
    )


def add_closed_day(day: date, note: str, actor: User, now: datetime) -> bool:
    """Mark ``day`` closed; False when it already was (nothing written)."""
    try:
        with db.atomic():
            ClosedDay.create(day=day, note=note, created_at=now)
    except IntegrityError:
        return False
    audit(
        "catalogue_closed_day_added",
        actor,
        object_type="closed_day",
        object_id=day.isoformat(),
        details=note,
        now=now,
    )
    reload()
    return True


def remove_closed_day(day: date, actor: User, now: datetime) -> bool:
    """Open ``day`` again; False when it was not closed."""
    if not ClosedDay.delete().where(ClosedDay.day == day).execute():
        return False
    audit(
        "catalogue_closed_day_removed",
        actor,
        object_type="closed_day",
        object_id=day.isoformat(),
        now=now,
    )
    reload()
    return True
