"""The importers' reasons for a refused line or record, in the reader's
language. The importers (``hezo.imports``) write them in English, as the
command line prints them and the run's stored report keeps them; the
console's report page shows them through ``reason_text``. A reason no
pattern knows is shown as it is (a database's own message, say)."""

import re

from flask_babel import gettext as _

from ..i18n import N_

#: (pattern of the English reason, its words with the pattern's groups).
REASONS = [
    (r"missing contract number", N_("missing contract number")),
    (r"missing customer name", N_("missing customer name")),
    (r"missing serial number", N_("missing serial number")),
    (r"too few columns", N_("too few columns")),
    (r"end date before start date", N_("end date before start date")),
    (r"invalid customer NIP (?P<value>.*)", N_("invalid customer NIP %(value)s")),
    (r"invalid partner NIP (?P<value>.*)", N_("invalid partner NIP %(value)s")),
    (r"invalid customer_nip (?P<value>.*)", N_("invalid customer NIP %(value)s")),
    (
        r"invalid (?P<key>\w+) NIP (?P<value>.*)",
        N_("invalid NIP in %(key)s: %(value)s"),
    ),
    (r"unknown service code (?P<value>.*)", N_("unknown service code %(value)s")),
    (r"invalid start date (?P<value>.*)", N_("invalid start date %(value)s")),
    (r"invalid end date (?P<value>.*)", N_("invalid end date %(value)s")),
    (
        r"contract (?P<number>\S+) differs from line (?P<line>\d+)",
        N_("contract %(number)s differs from line %(line)s"),
    ),
    (
        r"legacy number (?P<legacy>\S+) belongs to contract (?P<number>\S+)",
        N_("previous number %(legacy)s belongs to contract %(number)s"),
    ),
    (r"malformed record: (?P<what>.*)", N_("malformed record: %(what)s")),
    (r"missing (?P<key>\w+)", N_("missing %(key)s")),
    (r"not an object", N_("not an object")),
    (r"(?P<key>\w+) is not an object", N_("%(key)s is not an object")),
    (r"(?P<key>\w+) is not text", N_("%(key)s is not text")),
    (
        r"(?P<key>\w+) contains a NUL character",
        N_("%(key)s contains a NUL character"),
    ),
    (
        r"(?P<key>\w+) longer than (?P<limit>\d+) characters",
        N_("%(key)s longer than %(limit)s characters"),
    ),
    (r"unknown status (?P<value>.*)", N_("unknown status %(value)s")),
    (r"invalid coverage period", N_("invalid coverage period")),
    (r"no covered serials", N_("no covered serials")),
    (r"a covered serial without its number", N_("a covered serial without its number")),
    (
        r"legacy_id appears twice in the export",
        N_("legacy_id appears twice in the export"),
    ),
    (
        r"dialogue PDF not rendered: (?P<what>.*)",
        N_("dialogue PDF not rendered: %(what)s"),
    ),
    (r"database refused it: (?P<what>.*)", N_("the database refused it: %(what)s")),
]
COMPILED = [(re.compile(pattern, re.S), words) for pattern, words in REASONS]
#: Groups that hold another reason (translated in turn), not a value.
NESTED = ("what",)


def reason_text(reason: str) -> str:
    """``reason`` in the language being rendered."""
    for pattern, words in COMPILED:
        match = pattern.fullmatch(reason)
        if match:
            values = match.groupdict()
            for name in NESTED:
                if values.get(name) is not None:
                    values[name] = reason_text(values[name])
            return _(words, **values)
    return reason
