"""People who sign in, and the secrets that let them."""

import secrets

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
)

from ..db import BaseModel, UTCDateTimeField, utcnow
from .companies import Company

ROLES = ("customer", "partner", "engineer", "admin")
STAFF_ROLES = ("engineer", "admin")


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


class User(BaseModel):
    email = CharField(max_length=254, unique=True)
    first_name = CharField(max_length=80)
    last_name = CharField(max_length=80)
    phone = CharField(max_length=32, default="")
    # The person's role in their company ("IT manager"), as they give it.
    position = CharField(max_length=80, default="")
    language = CharField(max_length=2, default="pl")
    role = CharField(max_length=16, index=True)  # the engineers' list
    company = ForeignKeyField(Company, null=True, backref="users")
    password_hash = CharField(max_length=255, null=True)
    # Encrypted with a key that is not in the database (hezo.crypto).
    totp_secret = CharField(max_length=255, null=True)
    totp_last_step = BigIntegerField(default=0)
    # flask-login's id: rotated to end every session of the account (password
    # change, TOTP reset, "sign out everywhere else"), so copied cookies stop
    # working server-side. Signing out ends one session (EndedSession).
    session_token = CharField(max_length=64, unique=True, default=new_session_token)
    is_enabled = BooleanField(default=True)
    # Password failures are counted in ThrottleEvent (hezo.accounts.throttle).
    failed_otps = IntegerField(default=0)
    otp_blocked_until = UTCDateTimeField(null=True)
    notify_by_email = BooleanField(default=True)
    created_at = UTCDateTimeField(default=utcnow)
    last_login_at = UTCDateTimeField(null=True)
    # Erased under GDPR Art. 17 (hezo.privacy): the row stays for the case
    # record, its personal data replaced; it never signs in again.
    erased_at = UTCDateTimeField(null=True)
    # Warned of inactivity (``hezo run-retention``); disabled 30 days later
    # unless the person signs in after this.
    inactivity_warned_at = UTCDateTimeField(null=True)

    # flask-login: the id in the cookie is the rotating session token.
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.is_enabled

    def get_id(self) -> str:
        return self.session_token

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class ExternalIdentity(BaseModel):
    """A person at an OpenID provider (V-ZAM): the provider's ``issuer`` and
    its ``subject`` (the ID token's ``sub``) name one account here. Never the
    e-mail: addresses change hands, a ``sub`` is never reassigned."""

    user = ForeignKeyField(User, backref="external_identities", on_delete="CASCADE")
    issuer = CharField(max_length=255)
    subject = CharField(max_length=255)
    created_at = UTCDateTimeField(default=utcnow)
    last_login_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("issuer", "subject"), True),)


class RecoveryCode(BaseModel):
    """A single-use recovery code; ``lookup`` (its first group) finds the row."""

    user = ForeignKeyField(User, backref="recovery_codes", on_delete="CASCADE")
    lookup = CharField(max_length=8)
    code_hash = CharField(max_length=255)
    used_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("user", "lookup"), False),)


class AuthToken(BaseModel):
    """A one-time link token (invitation, password reset); only its hash is kept."""

    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    purpose = CharField(max_length=16)
    token_hash = CharField(max_length=64, unique=True)
    # An e-mail change: the address the link confirms (sent there).
    new_email = CharField(max_length=254, default="")
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)


class PendingRegistration(BaseModel):
    """A registration between the company proof and the e-mailed confirmation link.

    The browser holds only ``key``; what was typed stays here, off the cookie.
    """

    key = CharField(max_length=64, unique=True)
    token_hash = CharField(max_length=64, null=True, unique=True)
    company = ForeignKeyField(Company, on_delete="CASCADE")
    contract_number = CharField(max_length=40)
    serial = CharField(max_length=64)
    service_code = CharField(max_length=20, default="")
    first_name = CharField(max_length=80, default="")
    last_name = CharField(max_length=80, default="")
    email = CharField(max_length=254, default="")
    phone = CharField(max_length=32, default="")
    language = CharField(max_length=2, default="pl")
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()


class PendingEnrolment(BaseModel):
    """A TOTP secret offered to a user but not yet confirmed (kept off the cookie)."""

    key = CharField(max_length=64, unique=True)
    secret = CharField(max_length=255)
    created_at = UTCDateTimeField(default=utcnow)


class EndedSession(BaseModel):
    """A session signed out before its time (the ``sid`` in its cookie).

    The cookie is signed, not stored: a copy of it would still carry the
    account's session token, so the signed-in user is read only while the
    session's ``sid`` is not here. Rows older than the absolute session limit
    are of no use (such cookies have expired anyway) and are deleted.
    """

    sid = CharField(max_length=32, unique=True)
    user = ForeignKeyField(User, backref="ended_sessions", on_delete="CASCADE")
    ended_at = UTCDateTimeField(default=utcnow, index=True)


class ThrottleEvent(BaseModel):
    """One counted failure (registration proof per NIP, per contract, ...)."""

    scope = CharField(max_length=24)
    key = CharField(max_length=128)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("scope", "key", "created_at"), False),)
