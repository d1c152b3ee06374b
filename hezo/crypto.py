"""Secrets at rest and one-time tokens.

TOTP secrets are encrypted (Fernet: AES-128-CBC + HMAC-SHA256) with
``TOTP_ENCRYPTION_KEY``, which lives in the environment, not in the database.
One-time link tokens are random and only their SHA-256 is stored.
"""

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _fernet() -> Fernet:
    material = current_app.config["TOTP_ENCRYPTION_KEY"]
    key = base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())
    return Fernet(key)


def encrypt_secret(plain: str) -> str:
    """Encrypt a TOTP secret for storage."""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt_secret(stored: str) -> str:
    """Decrypt a stored TOTP secret; raises ValueError when the key is wrong."""
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("TOTP secret cannot be decrypted with this key") from exc


def new_token() -> str:
    """A URL-safe one-time token with 256 bits from the OS CSPRNG."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored for a token: its SHA-256 (tokens have full entropy)."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
