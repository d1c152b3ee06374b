"""The service catalogue, read from ``catalogue.toml`` beside this module."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

WINDOWS = ("8x5", "24x7")
REPLACEMENTS = ("", "NBD", "8H", "4H")


@dataclass(frozen=True)
class ServicePlan:
    code: str
    name: str
    name_pl: str
    support: bool
    replacement: str
    onsite: bool
    window: str

    @property
    def needs_site(self) -> bool:
        """A replacement is shipped or an engineer comes on site: its cases
        need the delivery or site address and an on-site contact person."""
        return bool(self.replacement) or self.onsite

    def label(self, language: str) -> str:
        """The package name in ``language`` (the catalogue's English otherwise)."""
        return self.name_pl if language == "pl" else self.name


def _load() -> dict[str, ServicePlan]:
    raw = tomllib.loads((Path(__file__).with_name("catalogue.toml")).read_text("utf-8"))
    plans = {}
    for entry in raw["service"]:
        plan = ServicePlan(**entry)
        if plan.window not in WINDOWS or plan.replacement not in REPLACEMENTS:
            raise ValueError(f"catalogue.toml: bad entry {plan.code}")
        plans[plan.code] = plan
    return plans


SERVICES: dict[str, ServicePlan] = _load()


def get_plan(code: str) -> ServicePlan | None:
    """The plan for a service code, or None for a code not in the catalogue."""
    return SERVICES.get(code)
