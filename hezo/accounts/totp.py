"""TOTP (RFC 6238): SHA-1, 6 digits, 30 s steps, 160-bit secrets, ±1 step drift.

One step either side is the drift RFC 6238 §5.2 allows for network delay and
clock skew; a code's step is accepted once per account (the caller stores it
with a conditional UPDATE, see ``services.consume_totp_step``).
"""

from datetime import datetime

import pyotp
import segno
from markupsafe import Markup
from pyotp.exceptions import OTPVerificationError

ISSUER = "myHEZO"
VALID_WINDOW = 1


def new_secret() -> str:
    """A fresh base32 secret: 32 characters, 160 bits from the OS CSPRNG."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    """The ``otpauth://`` URI for authenticator apps (issuer myHEZO)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """The URI as an inline SVG QR code, drawn here (no outside QR service)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, border=2, dark="#000", light="#fff", omitsize=True
    )
    # Named by the page's text alternative (#qr-label in _enrolment.html).
    svg = svg.replace(
        "<svg ", '<svg role="img" aria-labelledby="qr-label" class="qr" ', 1
    )
    return Markup(svg)


def grouped(secret: str) -> str:
    """The secret in groups of four for typing by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step a 6-digit code belongs to (±1 step of ``now``), or None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(
            code, for_time=now, valid_window=VALID_WINDOW
        )
    except OTPVerificationError:
        return None
