"""Settings an administrator may change in the console (contact facts, the
engineers' team address, the knowledge base): their current values.

A value saved in the database wins over the configuration's default
(``hezo/config.py``, ``HEZO_*``); clearing it deletes its row and the default
applies again. Every page, e-mail and PDF shows them, so reading them costs no
query per request: each process keeps the values with the number of the
``settings_version`` row they were read at, and compares that number again
only after ``SETTINGS_CHECK_SECONDS`` (one small SELECT; the values are read
again only when it changed). The process that saves a change sees it at once;
the others within that many seconds.
"""

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, appcontext_pushed, current_app
from peewee import PeeweeException

from .db import UNAVAILABLE_ERRORS, db
from .models import SettingsVersion, SiteSetting

log = logging.getLogger(__name__)

#: The settings the console edits, in its order; each defaults to the
#: configuration key of the same name.
EDITABLE = (
    "HELPLINE_PHONE",
    "HELP_EMAIL",
    "ESCALATION_PHONE",
    "ESCALATION_EMAIL",
    "ENGINEERS_EMAIL",
    "KNOWLEDGE_BASE_URL",
)
PHONES = ("HELPLINE_PHONE", "ESCALATION_PHONE")
EMAILS = ("HELP_EMAIL", "ESCALATION_EMAIL", "ENGINEERS_EMAIL")
URLS = ("KNOWLEDGE_BASE_URL",)

_PHONE_SEPARATORS = re.compile(r"[\s()./-]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_URL = re.compile(r"https?://[^\s/?#<>\"']+\.[^\s/?#<>\"']+(?:[/?#][^\s<>\"']*)?")

#: Monotonic seconds (a function, so a test can move time on).
clock = time.monotonic


def tel_uri(phone: str) -> str:
    """The ``tel:`` URI (E.164, no separators) of a number written as
    ``+48 12 25 25 600``; ValueError for a number without its country code."""
    digits = _PHONE_SEPARATORS.sub("", str(phone))
    if not _E164.fullmatch(digits):
        raise ValueError(
            f"{phone!r} is not an international phone number (e.g. +48 12 25 25 600)"
        )
    return "tel:" + digits


def normalized_email(value: str) -> str:
    """The address as stored (ValueError when it is not one)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc


def checked(name: str, value: str) -> str:
    """``value`` as it is saved for ``name``; ValueError when it is not a
    phone number in international notation, an e-mail address or an
    http(s) URL, as the setting needs. An empty value means the default."""
    value = " ".join(str(value).split())
    if not value:
        return ""
    if name in PHONES:
        tel_uri(value)
    elif name in EMAILS:
        value = normalized_email(value)
    elif name in URLS and not _URL.fullmatch(value):
        raise ValueError(f"{value!r} is not an http(s) address")
    return value


@dataclass
class _Cache:
    values: dict | None = None  # the saved values (no row: the default)
    version: int | None = None
    checked_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


def _cache(app: Flask) -> _Cache:
    return app.extensions.setdefault("hezo_settings", _Cache())


def defaults(app: Flask) -> dict[str, str]:
    return {name: app.config[name] or "" for name in EDITABLE}


def defaults_for(name: str) -> str:
    """The configuration's default of one setting (what clearing it gives)."""
    return current_app.config[name] or ""


def _read_version() -> int:
    row = SettingsVersion.select(SettingsVersion.number).where(SettingsVersion.id == 1)
    return next((r.number for r in row), 0)


def _refresh(app: Flask, cache: _Cache, now: float) -> None:
    try:
        version = _read_version()
        if version == cache.version and cache.values is not None:
            return
        saved = {r.name: r.value for r in SiteSetting.select()}
    except (PeeweeException, *UNAVAILABLE_ERRORS) as exc:
        # No database (yet, or at the moment): what was read last, else the
        # configuration; tried again a second later.
        (log.info if cache.values is None else log.warning)(
            "settings not read from the database: %s", exc
        )
        cache.checked_at = now - _interval(app) + 1
        return
    values = {k: v for k, v in saved.items() if k in EDITABLE}
    if values != cache.values:
        # The layout's parts rendered once per language show these values.
        app.extensions.get("hezo_page_parts", {}).clear()
        app.extensions.get("hezo_kept_pages", {}).clear()  # kept_pages.py
    cache.values, cache.version = values, version


def _interval(app: Flask) -> float:
    return app.config.get("SETTINGS_CHECK_SECONDS", 30)


def fresh(app: Flask) -> bool:
    """Whether the settings were checked within their interval (a page made
    with them may be given again without asking ``current``)."""
    return clock() - _cache(app).checked_at < _interval(app)


def current(app: Flask | None = None) -> dict[str, str]:
    """Every editable setting's value (the database's, else the default)."""
    app = app or current_app._get_current_object()
    cache = _cache(app)
    now = clock()
    if now - cache.checked_at >= _interval(app) and (
        # Not inside a transaction when there is something to show meanwhile:
        # on SQLite a read before the transaction's first write could make
        # that write fail (its snapshot outdated by another writer).
        cache.values is None or not db.in_transaction()
    ):
        with cache.lock:
            if now - cache.checked_at >= _interval(app):
                cache.checked_at = now
                _refresh(app, cache, now)
    # The defaults are read each time: the configuration stays the one place
    # of them (a test or a reload may change it); a dict of six keys.
    return defaults(app) | (cache.values or {})


def init_app(app: Flask) -> None:
    """Check the cache whenever an app context begins (each request, each
    background job's context), before any transaction of its own."""

    def _fresh(sender, **_extra):
        current(sender)

    appcontext_pushed.connect(_fresh, app, weak=False)


def value(name: str) -> str:
    """One setting's value, e.g. ``value("ENGINEERS_EMAIL")``."""
    return current()[name]


def saved() -> dict[str, str]:
    """The values saved in the database (read now, not cached)."""
    return {r.name: r.value for r in SiteSetting.select()}


def save(changes: dict[str, str], actor, now: datetime) -> list[str]:
    """Save the ``changes`` (already ``checked``; empty: back to the
    default) that differ from what is saved; one audit event each with the
    old and new value, and the version raised so every process reads them
    again. Returns the names changed."""
    import json

    from .audit import audit

    app = current_app._get_current_object()
    with db.atomic():
        stored = saved()
        changed = [
            name
            for name, new in changes.items()
            if name in EDITABLE and new != stored.get(name, "")
        ]
        if not changed:
            return []
        base = defaults(app)
        for name in changed:
            new = changes[name]
            if new:
                SiteSetting.insert(name=name, value=new, changed_at=now).on_conflict(
                    conflict_target=[SiteSetting.name],
                    update={SiteSetting.value: new, SiteSetting.changed_at: now},
                ).execute()
            else:
                SiteSetting.delete().where(SiteSetting.name == name).execute()
            audit(
                "setting_changed",
                actor=actor,
                object_type="setting",
                object_id=name,
                details=json.dumps(
                    {
                        "name": name,
                        "old": stored.get(name) or base[name],
                        "new": new or base[name],
                        "default": not new,
                    }
                ),
                now=now,
            )
        SettingsVersion.insert(id=1, number=1).on_conflict(
            conflict_target=[SettingsVersion.id],
            update={SettingsVersion.number: SettingsVersion.number + 1},
        ).execute()
    expire(app)
    return changed


def expire(app: Flask | None = None) -> None:
    """Compare with the database at the next read (this process's own save)."""
    app = app or current_app._get_current_object()
    _cache(app).checked_at = float("-inf")
