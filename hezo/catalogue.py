"""The service catalogue: the packages as sold and the custom time variants.

The nine PartnerWorks packages are seed data (``catalogue.toml`` beside this
module; migration 0010 copies them into the ``service_variant`` table). Custom
variants (8x5x8, 24x7xNBD, ...) are rows of that table made in the console.
The database is the source: ``hezo/catalogue_db.py`` loads its rows into this
module's per-app cache at start and after every change, so reading the
catalogue costs no query on a request (other processes re-read it at most
every ``CATALOGUE_REFRESH_SECONDS``). Without an app (pure clock tests, data
generators) or before the table exists, the catalogue is the seed packages.

The office's closed days (beyond public holidays) travel in the same cache:
windows that skip public holidays skip them too (``sla.py``).
"""

import json
import time as _time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

from babel.dates import get_day_names
from flask import current_app, has_app_context
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

#: The kinds of request window a contract may have (vocabulary "window"):
#: the two standard windows by name, and any other agreed hours.
WINDOWS = ("8x5", "24x7", "custom")
#: ISO weekdays, Monday = 1.
ALL_DAYS = "1234567"
WORK_DAYS = "12345"
#: Replacement / on-site terms besides a number of hours ("8H", "4H", "6H"...).
NEXT_BUSINESS_DAY = "NBD"
MAX_HOURS = 168


@dataclass(frozen=True)
class Window:
    """When requests are handled: on ``days`` (ISO weekdays), from ``opens``
    to ``closes`` o'clock Warsaw time (``closes`` 24 is midnight; the window
    is half-open), and, with ``holidays``, never on Polish public holidays
    nor on the office's closed days."""

    days: str = WORK_DAYS
    opens: int = 9
    closes: int = 17
    holidays: bool = True

    @property
    def continuous(self) -> bool:
        """Always open: counted in real (UTC) time."""
        return (
            self.days == ALL_DAYS
            and (self.opens, self.closes) == (0, 24)
            and not self.holidays
        )

    @property
    def name(self) -> str:
        """``8x5``, ``24x7`` or ``custom`` (``WINDOWS``)."""
        for name, window in NAMED_WINDOWS.items():
            if window == self:
                return name
        return "custom"

    def text(self) -> str:
        """The window in words, in the language being rendered, e.g.
        "Mon–Fri 9:00–17:00, except public holidays and days the office is
        closed" (Warsaw time)."""
        names = get_day_names("abbreviated", locale=get_locale() or "en")
        runs, start = [], None
        for n in range(1, 9):
            inside = str(n) in self.days
            if inside and start is None:
                start = n
            elif not inside and start is not None:
                runs.append((start, n - 1))
                start = None
        parts = [
            names[a - 1] if a == b else f"{names[a - 1]}–{names[b - 1]}"
            for a, b in runs
        ]
        text = _(
            "%(days)s %(opens)s:00–%(closes)s:00 Warsaw time",
            days=", ".join(parts),
            opens=self.opens,
            closes=self.closes,
        )
        if self.holidays:
            text += _(", except public holidays and days the office is closed")
        return text

    def is_valid(self) -> bool:
        return (
            bool(self.days)
            and set(self.days) <= set(ALL_DAYS)
            and "".join(sorted(set(self.days))) == self.days
            and 0 <= self.opens < self.closes <= 24
        )


NAMED_WINDOWS = {
    "8x5": Window(),
    "24x7": Window(ALL_DAYS, 0, 24, False),
}


def replacement_hours(replacement: str) -> int | None:
    """The hours of a ``"<n>H"`` replacement term, else None."""
    if len(replacement) > 1 and replacement.endswith("H"):
        digits = replacement[:-1]
        if digits.isdigit() and not digits.startswith("0"):
            hours = int(digits)
            return hours if hours <= MAX_HOURS else None
    return None


def is_replacement(replacement: str) -> bool:
    """``""`` (none), ``"NBD"`` or ``"<n>H"`` with 1 <= n <= 168."""
    return replacement in ("", NEXT_BUSINESS_DAY) or bool(
        replacement_hours(replacement)
    )


@dataclass(frozen=True)
class ServicePlan:
    code: str
    name: str
    name_pl: str
    support: bool
    replacement: str
    onsite: bool
    hours: Window = field(default_factory=Window)
    response_hours: int = 1
    custom: bool = False

    @property
    def window(self) -> str:
        """The window's kind: ``8x5``, ``24x7`` or ``custom`` (``WINDOWS``)."""
        return self.hours.name

    @property
    def needs_site(self) -> bool:
        """A replacement is shipped or an engineer comes on site: its cases
        need the delivery or site address and an on-site contact person."""
        return bool(self.replacement) or self.onsite

    def replacement_text(self) -> str:
        """The replacement / on-site time in words (rendering language)."""
        if self.replacement == NEXT_BUSINESS_DAY:
            return _("next business day")
        hours = replacement_hours(self.replacement)
        if hours:
            return ngettext("within %(num)d hour", "within %(num)d hours", hours)
        return _("not included")

    def label(self, language: str) -> str:
        """The package name in ``language`` (the catalogue's English otherwise)."""
        return self.name_pl if language == "pl" else self.name

    def terms(self) -> str:
        """The clock terms as stored on a case when it opens (``from_terms``),
        so later changes of the variant never move that case's clocks."""
        return json.dumps(
            {
                "code": self.code,
                "window": asdict(self.hours),
                "response_hours": self.response_hours,
                "replacement": self.replacement,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_terms(cls, terms: str, current: "ServicePlan | None") -> "ServicePlan":
        """The plan whose clocks a case keeps (its stored ``terms``), named
        as ``current`` names it."""
        data = json.loads(terms)
        code = data["code"]
        base = current or cls(code, code, code, False, "", False)
        return replace(
            base,
            replacement=data["replacement"],
            hours=Window(**data["window"]),
            response_hours=data["response_hours"],
        )


def _load_seed() -> dict[str, ServicePlan]:
    raw = tomllib.loads((Path(__file__).with_name("catalogue.toml")).read_text("utf-8"))
    plans = {}
    for entry in raw["service"]:
        window = NAMED_WINDOWS.get(entry.pop("window"))
        plan = ServicePlan(**entry, hours=window or Window(days=""))
        if window is None or not is_replacement(plan.replacement):
            raise ValueError(f"catalogue.toml: bad entry {plan.code}")
        plans[plan.code] = plan
    return plans


#: The nine packages as seeded (what the catalogue is without a database).
PACKAGES: dict[str, ServicePlan] = _load_seed()


class CatalogueCache:
    """One app's copy of the catalogue and the closed days. ``loader``
    returns (plans from the database, closed days), or None when the database
    cannot be read (the last copy stays); it is called at start,
    after a change in this process (``reload``) and when the copy is older
    than ``refresh`` seconds (changes made by other processes)."""

    def __init__(self, loader: Callable, refresh: float):
        self.loader, self.refresh = loader, refresh
        self.plans: dict[str, ServicePlan] = dict(PACKAGES)
        self.closed: frozenset[date] = frozenset()
        self.loaded_at: float | None = None

    def reload(self) -> None:
        loaded = self.loader()
        if loaded is not None:  # None: unreadable now, the last copy stays
            plans, closed = loaded
            self.plans = PACKAGES | plans
            self.closed = frozenset(closed)
        self.loaded_at = _time.monotonic()

    def current(self) -> "CatalogueCache":
        if self.loaded_at is None or _time.monotonic() - self.loaded_at > self.refresh:
            self.reload()
        return self


def _cache() -> CatalogueCache | None:
    if not has_app_context():
        return None
    cache = current_app.extensions.get("catalogue")
    return cache.current() if cache is not None else None


def plans() -> dict[str, ServicePlan]:
    """Every plan by code: packages and custom variants."""
    cache = _cache()
    return cache.plans if cache is not None else PACKAGES


def closed_days() -> frozenset[date]:
    """The days the office is closed beyond public holidays."""
    cache = _cache()
    return cache.closed if cache is not None else frozenset()


def get_plan(code: str) -> ServicePlan | None:
    """The plan for a service code, or None for a code not in the catalogue."""
    return plans().get(code)


class _Services(Mapping):
    """``SERVICES``: the current catalogue as a read-only mapping."""

    def __getitem__(self, code: str) -> ServicePlan:
        return plans()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(plans())

    def __len__(self) -> int:
        return len(plans())


SERVICES: Mapping[str, ServicePlan] = _Services()
