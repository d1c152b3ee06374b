"""Password rules (NIST SP 800-63B): length, blocklist, context words; hashing.

No composition rules: any characters, spaces and Polish letters welcome; the
password is checked and stored exactly as typed. zxcvbn supplies the list of
30,000 most common passwords and the guessability estimate.
"""

import functools
import threading
import unicodedata

from flask import current_app
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8
MAX_LENGTH = 256
PORTAL_WORDS = ("myhezo", "hezo", "extreme", "extremenetworks", "partnerworks")

# zxcvbn keeps the user inputs of a call in a module-level dict.
_zxcvbn_lock = threading.Lock()
_dummy_hash: str | None = None


def password_problems(password: str, context: list[str]) -> list[str]:
    """Translated reasons why ``password`` may not be used (empty when it may).

    ``context`` holds words tied to the user: e-mail, names, company, NIP.
    """
    if len(password) < MIN_LENGTH:
        return [_("Use at least %(num)d characters.", num=MIN_LENGTH)]
    if len(password) > MAX_LENGTH:
        return [_("Use at most %(num)d characters.", num=MAX_LENGTH)]
    lowered = password.lower()
    common = common_passwords()
    if lowered in common or lowered.strip() in common:
        return [_("This password is one of the most commonly used ones.")]
    words = [fold(w) for w in (*context, *PORTAL_WORDS) if w and len(w) >= 4]
    if any(word in fold(password) for word in words):
        return [
            _(
                "Do not use your name, e-mail, company, tax ID or the portal's "
                "name in the password."
            )
        ]
    from zxcvbn import zxcvbn

    with _zxcvbn_lock:
        score = zxcvbn(password[:72], user_inputs=words)["score"]
    if score < 2:
        return [
            _(
                "This password is too easy to guess. A few unrelated words make "
                "a strong passphrase."
            )
        ]
    return []


@functools.cache
def common_passwords() -> frozenset[str]:
    """zxcvbn's 30,000 most common passwords (loaded on first use: ~20 MB)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def fold(text: str) -> str:
    """Lower case without diacritics, so "Żółw" and "zolw" compare equal."""
    text = text.lower().replace("ł", "l")
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )


def hash_password(password: str) -> str:
    return generate_password_hash(
        password, method=current_app.config["PASSWORD_HASH_METHOD"]
    )


def needs_rehash(stored: str) -> bool:
    """True when the stored hash was made with other parameters than configured."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    return not stored.startswith(method + "$")


def check_password(stored: str | None, password: str) -> bool:
    """Compare in constant time; with no stored hash, burn the same time and fail."""
    global _dummy_hash
    if stored is None:
        if _dummy_hash is None:
            _dummy_hash = hash_password("not a real password")
        check_password_hash(_dummy_hash, password)
        return False
    return check_password_hash(stored, password)
