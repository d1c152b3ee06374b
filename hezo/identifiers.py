"""Identifiers as people type them, and as the portal stores and shows them.

Every place that reads a NIP, a contract number or a serial number from a
form, a search box or an import file goes through these functions, so each is
accepted in every notation it comes in (``shared/DESIGN.md``, "Notation").
"""

import re

from stdnum.exceptions import ValidationError
from stdnum.pl import nip as stdnum_nip

# The transitional prefix serials carried during the move to the new portal:
# "(H)-FG1234567890", "(H)FG1234567890", "(h) - FG1234567890".
LEGACY_SERIAL_PREFIX = re.compile(r"\(\s*H\s*\)[\s\-\u2010-\u2015]*", re.IGNORECASE)


def normalize_nip(value: str | None) -> str | None:
    """The 10-digit NIP, or None when it is malformed or fails its check digit.

    Spaces, dashes and a ``PL`` prefix are accepted (python-stdnum's rules).
    """
    try:
        return stdnum_nip.validate(value or "")
    except ValidationError:
        return None


def nip_digits(value: str | None) -> str:
    """The digits of a (possibly partial) NIP typed into a search box, or ""
    when the text is not one: separators and a ``PL`` prefix removed."""
    digits = stdnum_nip.compact(value or "")
    return digits if digits.isascii() and digits.isdigit() else ""


def strip_serial_prefix(text: str) -> str:
    """``text`` without a leading transitional ``(H)`` prefix, case kept."""
    prefix = LEGACY_SERIAL_PREFIX.match(text)
    return text[prefix.end() :].strip() if prefix else text


def normalize_serial(value: str | None) -> str:
    """A serial number in the new notation: trimmed, upper-cased, without the
    transitional ``(H)`` prefix. Serials compare case-insensitively."""
    return strip_serial_prefix((value or "").strip()).upper()


def normalize_contract_number(value: str | None) -> str:
    """A contract number (new or legacy notation) as compared: trimmed and
    upper-cased; stored numbers are compared upper-cased too."""
    return (value or "").strip().upper()
