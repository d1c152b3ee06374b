"""The importers' reasons for a refused line or record, in the reader's
language. The importers (``hezo.imports``) write them in English, as the
command line prints them and the run's stored report keeps them; the
console's report page shows them through ``reason_text``. A reason no
pattern knows is shown as it is (a database's own message, say)."""

import re

from flask_babel import gettext as _

from ..i18n import N_

#: Reasons the importers write in these very words, a value where a
#: ``%(name)s`` stands (most specific first).
AS_WRITTEN = [
    N_("missing contract number"),
    N_("missing customer name"),
    N_("missing serial number"),
    N_("too few columns"),
    N_("end date before start date"),
    N_("invalid customer NIP %(value)s"),
    N_("invalid partner NIP %(value)s"),
    N_("unknown service code %(value)s"),
    N_("invalid start date %(value)s"),
    N_("invalid end date %(value)s"),
    N_("contract %(number)s differs from line %(line)s"),
    N_("malformed record: %(what)s"),
    N_("not an object"),
    N_("invalid coverage period"),
    N_("no covered serials"),
    N_("a covered serial without its number"),
    N_("legacy_id appears twice in the export"),
    N_("missing %(key)s"),
    N_("%(key)s is not an object"),
    N_("%(key)s is not text"),
    N_("%(key)s contains a NUL character"),
    N_("%(key)s longer than %(limit)s characters"),
    N_("unknown status %(value)s"),
    N_("dialogue PDF not rendered: %(what)s"),
]
#: Reasons shown in other words than the importers' (their pattern, words).
REWORDED = [
    (r"invalid customer_nip (?P<value>.*)", N_("invalid customer NIP %(value)s")),
    (
        r"invalid (?P<key>\w+) NIP (?P<value>.*)",
        N_("invalid NIP in %(key)s: %(value)s"),
    ),
    (
        r"legacy number (?P<legacy>\S+) belongs to contract (?P<number>\S+)",
        N_("previous number %(legacy)s belongs to contract %(number)s"),
    ),
    (r"database refused it: (?P<what>.*)", N_("the database refused it: %(what)s")),
]


def _pattern(words: str) -> str:
    """The pattern of ``words`` as written: each ``%(name)s`` a group."""
    parts = re.split(r"%\((\w+)\)s", words)
    return "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.*)"
        for i, part in enumerate(parts)
    )


COMPILED = [
    (re.compile(pattern, re.S), words)
    for pattern, words in [(_pattern(w), w) for w in AS_WRITTEN] + REWORDED
]
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
