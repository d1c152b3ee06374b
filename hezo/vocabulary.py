"""The words the portal shows for stored codes: case statuses, severities,
contract states, channels, roles, due-clock states and request windows.

One place for templates (``label``/``tone`` globals and the ``badge`` macro),
forms (``choices``) and PDFs, so a status reads the same on the case page, in
the queue, in an e-mail and in a PDF, in both languages. Labels are gettext
message ids marked with ``N_`` (extracted by Babel) and translated when shown,
in the language being rendered (``hezo.i18n.translate``). The tone names the
badge's colour class; the badge always shows the word as well, so a state is
never told by colour alone.
"""

from typing import NamedTuple

from flask_babel import lazy_gettext
from wtforms.fields.choices import SelectChoice

from .i18n import N_


class Term(NamedTuple):
    label: str  # gettext message id (English)
    tone: str  # ok · warn · bad · info · neutral


VOCABULARIES: dict[str, dict[str, Term]] = {
    "status": {
        "new": Term(N_("new"), "info"),
        "in_verification": Term(N_("in verification"), "info"),
        "waiting_for_customer": Term(N_("waiting for the customer"), "warn"),
        "resolved": Term(N_("resolved"), "ok"),
        "validated": Term(N_("replacement approved"), "info"),
        "replacement_sent": Term(N_("replacement sent"), "info"),
        "awaiting_return": Term(N_("awaiting return of the faulty unit"), "info"),
        "closed": Term(N_("closed"), "ok"),
    },
    "severity": {
        "critical": Term(N_("critical"), "bad"),
        "major": Term(N_("major"), "warn"),
        "minor": Term(N_("minor"), "ok"),
    },
    "contract": {
        "active": Term(N_("active"), "ok"),
        "expiring": Term(N_("expiring"), "warn"),
        "expired": Term(N_("expired"), "bad"),
        "future": Term(N_("not started"), "bad"),
    },
    "channel": {
        "portal": Term(N_("portal"), "neutral"),
        "phone": Term(N_("phone"), "neutral"),
        "email": Term(N_("e-mail"), "neutral"),
        "migrated": Term(N_("previous portal"), "neutral"),
    },
    "role": {
        "customer": Term(N_("customer"), "neutral"),
        "partner": Term(N_("partner"), "neutral"),
        "engineer": Term(N_("engineer"), "neutral"),
        "admin": Term(N_("administrator"), "neutral"),
    },
    "flag": {
        "escalated": Term(N_("escalated"), "bad"),
        "replied": Term(N_("customer replied"), "warn"),
        "internal": Term(N_("internal note"), "warn"),
    },
    "sharing": {
        "shared": Term(N_("shared"), "warn"),
        "not_shared": Term(N_("not shared"), "ok"),
    },
    "due": {
        "breached": Term(N_("breached"), "bad"),
        "due_soon": Term(N_("due soon"), "warn"),
        "ok": Term(N_("on time"), "ok"),
    },
    # A contract's request window (``catalogue.WINDOWS``), in words.
    "window": {
        "8x5": Term(
            N_(
                "Requests handled Mon–Fri 9:00–17:00 Warsaw time, except Polish "
                "public holidays"
            ),
            "neutral",
        ),
        "24x7": Term(N_("Requests handled 24 hours a day, 7 days a week"), "neutral"),
        # A custom variant's hours (hezo/catalogue.py).
        "custom": Term(
            N_("Requests handled in the hours agreed individually in the contract"),
            "neutral",
        ),
    },
}


#: The notes the portal itself writes on a status change; any other note is
#: the engineer's own words, shown as written.
STATUS_NOTES = {
    "customer_answered": N_("the customer answered"),
    "reopened": N_("reopened by the customer's reply"),
    "customer_solved": N_("marked solved by the customer"),
    "customer_confirmed": N_("resolution confirmed by the customer"),
    "customer_reopened": N_("reopened by the customer"),
}


def status_note(note: str) -> str:
    """A status change's note in the language being rendered."""
    from .i18n import translate

    return translate(STATUS_NOTES[note]) if note in STATUS_NOTES else note


def term(kind: str, value: str) -> Term:
    """The term for ``value``; an unknown code shows as itself, neutral."""
    return VOCABULARIES[kind].get(value) or Term(str(value), "neutral")


def label(kind: str, value: str) -> str:
    """``value``'s word in the language being rendered."""
    from .i18n import translate

    return translate(term(kind, value).label)


def tone(kind: str, value: str) -> str:
    return term(kind, value).tone


def choices(kind: str, values=None) -> list[SelectChoice]:
    """A form select's choices: code and lazily translated word, in the
    vocabulary's order or the order of ``values``."""
    vocabulary = VOCABULARIES[kind]
    return [
        SelectChoice(v, lazy_gettext(vocabulary[v].label)) for v in values or vocabulary
    ]


def init_app(app) -> None:
    app.jinja_env.globals.update(label=label, tone=tone, status_note=status_note)
