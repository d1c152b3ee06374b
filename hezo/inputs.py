"""What a client may send, checked once at the edge: whole numbers, text
without NUL, file names fit for a header.

A NUL byte (PostgreSQL refuses it in text), a page number beyond the
database's integers or a number in other scripts' digits would otherwise reach
a query and end in a server error.
"""

import re
import unicodedata

from flask import Flask, abort, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from .db import utcnow
from .sla import local_day

#: The largest id or page number taken from a client (PostgreSQL's integer).
MAX_INT = 2**31 - 1
#: Characters that end a line somewhere (``str.splitlines``, HTTP, e-mail).
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


class IdConverter(IntegerConverter):
    """``<int:…>`` in routes: ASCII digits up to ``MAX_INT`` (werkzeug's
    takes any size, and ``\\d`` any script's digits); others do not match: 404."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Before any route is added: ids in paths are bounded."""
    app.url_map.converters["int"] = IdConverter


class RefusedInput(BadRequest):
    """400 with a message for the person (shown on the error page)."""

    def __init__(self, message):
        super().__init__()
        self.message = message


def refuse(message) -> None:
    raise RefusedInput(message)


def whole_number(text: str | None, maximum: int = MAX_INT) -> int | None:
    """``text`` as a number from 0 to ``maximum`` written in ASCII digits, else
    None (Python's ``int`` also reads "١٢", "１" or "1_0")."""
    if not text or not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    value = int(text)
    return value if value <= maximum else None


INVALID_NUMBER = _l("The address contains a number that is not valid.")


def number_arg(name: str, message=INVALID_NUMBER) -> int | None:
    """A whole-number query argument, None when absent or not a number at all
    (as before: such values are ignored). Digits that are not ASCII or a
    number beyond ``MAX_INT`` get a 400 with ``message``."""
    text = request.args.get(name, "")
    value = whole_number(text)
    if value is None and text.isdigit():
        refuse(message)
    return value


BAD_CHARACTER = _l("The request contains a character that is not allowed (NUL).")


def refuse_nul() -> None:
    """Refuse a request with a NUL anywhere a view could read it (path, query,
    form fields and their names, file names), and multipart parts without a
    field name (werkzeug keeps them under the name None, which Flask-WTF
    cannot take)."""
    if "\x00" in request.path:
        refuse(BAD_CHARACTER)
    texts = [*request.args.keys(), *request.args.values()]
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        form, files = request.form, request.files
        if None in form or None in files:
            abort(400)
        texts += [*form.keys(), *form.values(), *files.keys()]
        texts += [f.filename or "" for f in files.values()]
    if any("\x00" in text for text in texts):
        refuse(BAD_CHARACTER)


#: Explicit bidirectional formatting (embeddings, overrides, isolates): with
#: U+202E a message or subject shows its text reversed, a name "gpj.exe" as
#: "exe.jpg" (Trojan Source). Right-to-left marks (U+200F) stay: they only
#: nudge neutral characters.
BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


def plain_text(text: str | None) -> str | None:
    """Text written by a person (a message, a case's subject and
    description) without explicit bidirectional formatting characters."""
    return text.translate(BIDI_CONTROLS) if text else text


def clean_filename(name: str) -> str:
    """A file name fit to show and to send in a header: control and format
    characters (bidi overrides such as U+202E, zero-width marks) removed,
    line and paragraph breaks and tabs turned into spaces."""
    out = []
    for char in name:
        category = unicodedata.category(char)
        if char in LINE_BREAKS or char == "\t" or category in ("Zl", "Zp"):
            out.append(" ")
        elif category not in ("Cc", "Cf", "Co", "Cs", "Cn"):
            out.append(char)
    return " ".join("".join(out).split())


MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_arg(name: str = "month") -> tuple[int, int]:
    """A ``YYYY-MM`` query argument (years 2000-2999) as (year, month); this
    month in Warsaw when absent or not one."""
    found = MONTH.match(request.args.get(name, "")[:8])
    if found and 2000 <= int(found.group(1)) <= 2999:
        return int(found.group(1)), int(found.group(2))
    today = local_day(utcnow())
    return today.year, today.month
