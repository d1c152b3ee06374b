"""Account operations. Views and the CLI call these; they never read ``request``.

Every consume-once secret (TOTP step, recovery code, link token) is consumed by
a conditional UPDATE whose row count decides, so two concurrent uses cannot
both succeed, on SQLite and PostgreSQL alike.
"""

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from peewee import IntegrityError

from .. import crypto, settings
from ..audit import audit, security_event
from ..contracts.coverage import covered_device, find_contract
from ..db import db, utcnow
from ..identifiers import normalize_contract_number, normalize_nip, normalize_serial
from ..mail.queue import queue_mail, queue_staff_mail
from ..models import (
    AuthToken,
    Company,
    ContactRequest,
    Contract,
    Device,
    EndedSession,
    PendingEnrolment,
    PendingRegistration,
    RecoveryCode,
    SubmissionKey,
    ThrottleEvent,
    User,
)
from ..models.accounts import new_session_token
from . import passwords, throttle, totp

RECOVERY_CODES = 10
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 symbols, no 0/O, 1/I
OTP_LOCK_AFTER = 10
LOCK_SECONDS = 15 * 60
OTP_NOTIFY_AFTER = 3
TOKEN_LIFETIME = {
    "invite": timedelta(days=3),
    "reset": timedelta(minutes=30),
    "register": timedelta(hours=1),
    "email_change": timedelta(hours=24),
}
RESETS_PER_HOUR = 3


def public_url(path: str) -> str:
    """A link for an e-mail, built from the configured host, never the request's."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


# -- registration by contract proof ----------------------------------------


def _failures(scope: str, key: str, now: datetime) -> int:
    return (
        ThrottleEvent.select()
        .where(
            (ThrottleEvent.scope == scope)
            & (ThrottleEvent.key == key)
            & (ThrottleEvent.created_at > now - timedelta(hours=1))
        )
        .count()
    )


def slow_down(seconds: float) -> None:
    """Hold a wrong registration proof's answer back (tests replace this)."""
    time.sleep(seconds)


def failure_delay(failures: int) -> float:
    """Seconds a wrong proof waits, given the failures for its NIP or contract
    in the last hour: none for the first few (typos), then 1, 2, 4 ... capped."""
    cfg = current_app.config
    over = failures - cfg["REGISTRATION_FAILURES_PER_HOUR"]
    if over <= 0:
        return 0.0
    return float(min(2 ** (over - 1), cfg["REGISTRATION_FAILURE_DELAY_MAX_SECONDS"]))


def verify_company(
    nip: str, contract_number: str, serial: str, now: datetime
) -> Contract | None:
    """The contract when the three facts match an active contract, else None.

    Every lookup runs whatever fails first, so a mismatch takes the same time
    and gives the same answer whichever part was wrong. A correct triple is
    never refused, whatever failed before: NIPs are public, so failures of
    others must not block a company's registration. Wrong triples are counted
    per NIP and per contract number and answered more and more slowly; past
    the hourly threshold the engineers are alerted (``_count_failure``).
    """
    nip, serial = normalize_nip(nip) or "", normalize_serial(serial)
    contract = find_contract(contract_number)
    company = Company.get_or_none(Company.nip == nip)
    covered = covered_device(contract, serial) is not None
    if (
        company is not None
        and contract is not None
        and covered
        and contract.customer_id == company.id
        and contract.is_active_on(now.date())
    ):
        return contract
    failures = _count_failure(
        nip, normalize_contract_number(contract_number), company, now
    )
    slow_down(failure_delay(failures))
    return None


def _count_failure(nip: str, number: str, company: Company | None, now) -> int:
    """Record a wrong proof; returns the most failures in the last hour for its
    NIP or contract number. Past the threshold, the engineers get one e-mail
    per NIP of a known company and clock hour (the outbox's dedupe key)."""
    with db.atomic():
        ThrottleEvent.create(scope="register-nip", key=nip, created_at=now)
        ThrottleEvent.create(scope="register-contract", key=number, created_at=now)
        by_nip = _failures("register-nip", nip, now)
        failures = max(by_nip, _failures("register-contract", number, now))
        alert = (
            company is not None
            and by_nip >= current_app.config["REGISTRATION_FAILURES_PER_HOUR"]
        )
        if alert:
            queue_staff_mail(
                "register_failures_for_staff",
                dedupe_key=f"register-failures:{nip}:{now:%Y-%m-%dT%H}",
                company=company.name,
                nip=nip,
                failures=by_nip,
            )
    security_event("registration_proof_failed", nip=nip, failures=failures)
    return failures


def serial_services(company_id: int, serial: str, now: datetime) -> list[str]:
    """The service codes of the company's active contracts covering ``serial``."""
    day = now.date()
    return sorted(
        {
            code
            for (code,) in Contract.select(Contract.service_code)
            .join(Device)
            .where(
                (Contract.customer == company_id)
                & (Device.serial == normalize_serial(serial))
                & (Contract.start_date <= day)
                & (Contract.end_date >= day)
            )
            .tuples()
        }
    )


def start_registration(
    contract: Contract,
    serial: str,
    now: datetime,
    key: str | None = None,
) -> PendingRegistration:
    """Open (or update) the pending registration the browser refers to by ``key``.

    Its service is the proven contract's until the person picks another one of
    the serial's services (``choose_service``).
    """
    pending = (
        PendingRegistration.get_or_none(PendingRegistration.key == key) if key else None
    )
    if pending is None:
        pending = PendingRegistration(key=crypto.new_token())
    pending.company = contract.customer_id
    pending.contract_number = contract.number
    pending.serial = normalize_serial(serial)
    pending.service_code = contract.service_code
    pending.expires_at = now + timedelta(hours=2)
    pending.save()
    return pending


def choose_service(pending: PendingRegistration, code: str, now: datetime) -> None:
    """Take ``code`` as the registration's service if it is one of the serial's;
    any other value (blank, unknown) leaves the service as it was."""
    if code and code in serial_services(pending.company_id, pending.serial, now):
        pending.service_code = code


def pending_registration(key: str | None, now: datetime) -> PendingRegistration | None:
    if not key:
        return None
    return PendingRegistration.get_or_none(
        (PendingRegistration.key == key) & (PendingRegistration.expires_at > now)
    )


def submit_contact(pending: PendingRegistration, data: dict, now: datetime) -> None:
    """Save contact details and e-mail the confirmation link.

    When the address already has an account, its owner is told that someone
    tried instead; the person registering sees the same page either way.
    """
    for name in ("first_name", "last_name", "phone", "language"):
        setattr(pending, name, data[name])
    pending.email = data["email"].strip().lower()
    token = crypto.new_token()
    pending.token_hash = crypto.token_hash(token)
    pending.expires_at = now + TOKEN_LIFETIME["register"]
    existing = User.get_or_none(
        (User.email == pending.email) & User.totp_secret.is_null(False)
    )
    with db.atomic():
        pending.save()
        if existing is not None:
            queue_mail(
                existing.email,
                "register_attempt",
                existing.language,
                name=existing.first_name,
            )
        else:
            queue_mail(
                pending.email,
                "register_confirm",
                pending.language,
                name=pending.first_name,
                company=pending.company.name,
                link=public_url(f"/{pending.language}/register/confirm/{token}"),
            )


def confirm_registration(token: str, now: datetime) -> User | None:
    """Turn a confirmed registration into an account awaiting password and TOTP."""
    digest = crypto.token_hash(token)
    with db.atomic():
        # Claim the link with a write first (see consume_token): it expires now.
        if (
            not PendingRegistration.update(expires_at=now)
            .where(
                (PendingRegistration.token_hash == digest)
                & (PendingRegistration.expires_at > now)
            )
            .execute()
        ):
            return None
        pending = PendingRegistration.get(PendingRegistration.token_hash == digest)
        user = User.get_or_none(User.email == pending.email)
        if user is not None and (
            user.totp_secret is not None or user.role != "customer"
        ):
            return None
        PendingRegistration.delete().where(
            PendingRegistration.id == pending.id
        ).execute()
        # An account whose activation was abandoned is taken over by the person
        # who proved both the contract and control of the mailbox again.
        user = user or User(email=pending.email, role="customer", created_at=now)
        user.first_name, user.last_name = pending.first_name, pending.last_name
        user.phone, user.language = pending.phone, pending.language
        user.company, user.password_hash = pending.company_id, None
        user.save()
    security_event("registration_confirmed", user)
    return user


# -- invitations (staff and partners) --------------------------------------


def invite_user(
    role: str,
    email: str,
    first_name: str,
    last_name: str,
    company: Company | None,
    now: datetime,
    language: str = "pl",
) -> str:
    """Create an account without password or TOTP; returns its one-time link.

    Inviting an address whose earlier invitation was never completed resets
    that account and voids the old links.
    """
    email = email.strip().lower()
    with db.atomic():
        user = User.get_or_none(User.email == email) or User(
            email=email, created_at=now
        )
        user.first_name, user.last_name, user.role = first_name, last_name, role
        user.company, user.language, user.password_hash = company, language, None
        user.save()
        AuthToken.update(used_at=now).where(
            (AuthToken.user == user) & AuthToken.used_at.is_null()
        ).execute()
        token = _issue_token(user, "invite", now)
    return public_url(f"/{language}/invite/{token}")


class InvitationRefused(ValueError):
    """Why an administrator's invitation was not issued (its text is shown);
    ``reason`` names it for a translated message: ``email_invalid`` or
    ``email_taken``."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason


def invite_by_administrator(
    role: str,
    email: str,
    name: str,
    company: Company | None,
    now: datetime,
    language: str = "pl",
) -> tuple[str, str]:
    """``invite_user`` for ``hezo create-user`` / ``invite-partner``: ``name`` is
    "First Last"; returns the normalised address and the one-time link.

    Refuses (``InvitationRefused``) an invalid address, or one whose account is
    set up already or has another role; an invitation that was never completed
    is simply issued again.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvitationRefused(
            f"Not a valid e-mail address: {exc}", "email_invalid"
        ) from exc
    existing = User.get_or_none(User.email == email)
    if existing is not None and (
        existing.totp_secret is not None or existing.role != role
    ):
        raise InvitationRefused(
            f"An account with {email} exists already.", "email_taken"
        )
    first, _, last = name.strip().partition(" ")
    return email, invite_user(role, email, first, last, company, now, language)


def send_invitation(
    role: str,
    email: str,
    name: str,
    company: Company | None,
    actor: User,
    now: datetime,
    language: str = "pl",
) -> User:
    """``invite_by_administrator`` from the administrators' console: the link
    is e-mailed to the person (never shown to the administrator) and the
    invitation is audited. Raises ``InvitationRefused`` as it does."""
    with db.atomic():
        email, link = invite_by_administrator(role, email, name, company, now, language)
        user = User.get(User.email == email)
        queue_mail(
            email,
            "invitation",
            language,
            name=user.first_name,
            link=link,
            company=company.name if company else "",
        )
        audit(
            "account_invited",
            actor=actor,
            object_type="user",
            object_id=user.id,
            details=json.dumps({"role": role, "email": email}),
            now=now,
        )
    return user


def _issue_token(user: User, purpose: str, now: datetime) -> str:
    token = crypto.new_token()
    AuthToken.create(
        user=user,
        purpose=purpose,
        token_hash=crypto.token_hash(token),
        created_at=now,
        expires_at=now + TOKEN_LIFETIME[purpose],
    )
    return token


def valid_token(token: str, purpose: str, now: datetime) -> AuthToken | None:
    return AuthToken.get_or_none(
        (AuthToken.token_hash == crypto.token_hash(token))
        & (AuthToken.purpose == purpose)
        & AuthToken.used_at.is_null()
        & (AuthToken.expires_at > now)
    )


def consume_token(token: str, purpose: str, now: datetime) -> User | None:
    """Use a link token once: the first caller gets its user, every other None.

    The conditional UPDATE comes first: inside a transaction, SQLite lets a
    writer wait for the lock only if it has not read yet (BEGIN IMMEDIATE rule).
    """
    digest = crypto.token_hash(token)
    taken = (
        AuthToken.update(used_at=now)
        .where(
            (AuthToken.token_hash == digest)
            & (AuthToken.purpose == purpose)
            & AuthToken.used_at.is_null()
            & (AuthToken.expires_at > now)
        )
        .execute()
    )
    return AuthToken.get(AuthToken.token_hash == digest).user if taken == 1 else None


# -- activation: password, authenticator, recovery codes -------------------


def context_words(user: User) -> list[str]:
    local = user.email.split("@")[0]
    words = [user.email, local, user.first_name, user.last_name]
    if user.company_id:
        words += [user.company.nip, *user.company.name.replace(".", " ").split()]
    return words


def set_password(user: User, password: str) -> None:
    User.update(password_hash=passwords.hash_password(password)).where(
        User.id == user.id
    ).execute()


def begin_enrolment(key: str | None) -> tuple[str, str]:
    """A new pending TOTP secret (kept in the database); returns (key, secret).

    A fresh secret for every attempt, so a secret shown once is never reused.
    """
    stale = PendingEnrolment.created_at < utcnow() - timedelta(hours=1)
    PendingEnrolment.delete().where(
        stale | (PendingEnrolment.key == (key or ""))
    ).execute()
    secret = totp.new_secret()
    key = crypto.new_token()
    PendingEnrolment.create(key=key, secret=crypto.encrypt_secret(secret))
    return key, secret


def pending_secret(key: str | None) -> str | None:
    row = PendingEnrolment.get_or_none(PendingEnrolment.key == key) if key else None
    return crypto.decrypt_secret(row.secret) if row else None


def confirm_enrolment(
    user: User, key: str, code: str, now: datetime
) -> list[str] | None:
    """Activate the pending secret when ``code`` matches it.

    Swaps the secret, stores the code's step as used, voids old recovery codes
    and sessions, and returns ten new recovery codes; None when the code is wrong.
    """
    secret = pending_secret(key)
    step = totp.matching_step(secret, code, now) if secret else None
    if step is None:
        return None
    with db.atomic():
        User.update(
            totp_secret=crypto.encrypt_secret(secret),
            totp_last_step=step,
            failed_otps=0,
            otp_blocked_until=None,
            session_token=new_session_token(),
        ).where(User.id == user.id).execute()
        PendingEnrolment.delete().where(PendingEnrolment.key == key).execute()
        codes = issue_recovery_codes(user)
    return codes


def _hash_code(code: str, salt: bytes, method: str | None = None) -> str:
    """``method$salt$digest``; the method (``scrypt:N:r:p``) is the configured
    one unless given, and is stored so that a change of cost keeps old codes valid."""
    method = method or current_app.config["RECOVERY_CODE_HASH_METHOD"]
    n, r, p = (int(part) for part in method.split(":")[1:])
    digest = hashlib.scrypt(
        code.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * n * r, dklen=32
    )
    return f"{method}${salt.hex()}${digest.hex()}"


def _check_code(code: str, stored: str) -> bool:
    method, salt, digest = stored.split("$")
    if method == "scrypt":  # written before the method was stored
        method = "scrypt:16384:8:1"
    return hmac.compare_digest(
        _hash_code(code, bytes.fromhex(salt), method).split("$")[2], digest
    )


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def issue_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes (60 bits each), stored salted-hashed; old ones voided."""
    RecoveryCode.delete().where(RecoveryCode.user == user).execute()
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
        RecoveryCode.create(
            user=user,
            lookup=raw[:4],
            code_hash=_hash_code(raw, secrets.token_bytes(16)),
        )
    return codes


def remaining_recovery_codes(user: User) -> int:
    return (
        RecoveryCode.select()
        .where((RecoveryCode.user == user) & RecoveryCode.used_at.is_null())
        .count()
    )


# -- signing in --------------------------------------------------------------


@dataclass
class LoginResult:
    user: User | None
    reason: str = ""  # for the log only; the person sees one generic message
    #: While the account is guarded: go on to the code step with this ticket.
    ticket: str | None = None


def authenticate_password(
    email: str, password: str, now: datetime, ip: str = ""
) -> LoginResult:
    """Check e-mail and password, throttled per account (``throttle``).

    Unknown e-mail, wrong password, disabled or not activated: all fail alike,
    and a missing account still costs one password hash. While the account is
    guarded the password is not answered: the result carries a ticket to the
    code step whatever was typed.
    """
    user = User.get_or_none(User.email == email.strip().lower())
    ok = passwords.check_password(user.password_hash if user else None, password)
    usable = ok and user.is_enabled and user.totp_secret is not None
    if throttle.account_guarded(email, now):
        if not ok:
            throttle.record_failure(email, ip, now, user)
        return LoginResult(
            None, "guarded", throttle.guarded_ticket(user if usable else None)
        )
    if not ok:
        throttle.record_failure(email, ip, now, user)
        return LoginResult(None, "unknown" if user is None else "password")
    if not usable:
        return LoginResult(None, "inactive")
    if passwords.needs_rehash(user.password_hash):
        User.update(password_hash=passwords.hash_password(password)).where(
            User.id == user.id
        ).execute()
    return LoginResult(user)


def verify_guarded_login(
    ticket: str, code: str, now: datetime, pending: str | None = None
):
    """The code step of a guarded sign-in: (user, ``"totp"``/``"recovery"``)
    when the password was right and the code is accepted, else (None, None).

    After a wrong password (already counted at the password step) no code is
    checked at all: a stranger cannot wear down the owner's second factor.
    """
    uid = throttle.read_ticket(ticket)
    user = User.get_or_none(User.id == uid) if uid else None
    if user is None:
        return None, None
    method = verify_second_factor(user, code, now, pending)
    return (user, method) if method else (None, None)


def _backoff(failures: int, lock_after: int) -> timedelta:
    if failures >= lock_after:
        return timedelta(seconds=LOCK_SECONDS)
    return timedelta(seconds=min(2 ** (failures - 1), LOCK_SECONDS))


def _record_otp_failure(user: User, now: datetime) -> int:
    """Count one wrong code, set its back-off, mail the owner at the
    threshold; returns the number of consecutive failures."""
    failures = user.failed_otps + 1
    with db.atomic():
        User.update(
            {
                User.failed_otps: User.failed_otps + 1,
                User.otp_blocked_until: now + _backoff(failures, OTP_LOCK_AFTER),
            }
        ).where(User.id == user.id).execute()
        if failures == OTP_NOTIFY_AFTER:
            queue_mail(user.email, "otp_failures", user.language, name=user.first_name)
    return failures


def consume_totp_step(user: User, step: int, pending: str | None = None) -> bool:
    """Record ``step`` as used, only if it is newer than the last one used.

    With ``pending`` (the key of the pending sign-in that sent the code), it is
    recorded in the same transaction that this sign-in used the step, for
    ``step_used_by``.
    """
    with db.atomic():
        won = (
            User.update(totp_last_step=step, failed_otps=0, otp_blocked_until=None)
            .where((User.id == user.id) & (User.totp_last_step < step))
            .execute()
            == 1
        )
        if won and pending:
            SubmissionKey.insert(
                account=user.id, key=_sign_in_key(step, pending)
            ).execute()
    return won


def _sign_in_key(step: int, pending: str) -> str:
    return f"totp:{step}:{hashlib.sha256(pending.encode()).hexdigest()[:40]}"


def step_used_by(user: User, step: int, pending: str) -> bool:
    """Whether ``step`` was accepted for the pending sign-in ``pending`` itself:
    a second post of the same code from it (a double click) follows the first.
    Read after ``consume_totp_step`` lost, so after the winner's commit."""
    return (
        SubmissionKey.select()
        .where(
            (SubmissionKey.account == user.id)
            & (SubmissionKey.key == _sign_in_key(step, pending))
        )
        .exists()
    )


def consume_recovery_code(user: User, code: str, now: datetime) -> bool:
    code = normalize_recovery_code(code)
    if len(code) != 12:
        return False
    for row in RecoveryCode.select().where(
        (RecoveryCode.user == user)
        & (RecoveryCode.lookup == code[:4])
        & RecoveryCode.used_at.is_null()
    ):
        if _check_code(code, row.code_hash):
            return (
                RecoveryCode.update(used_at=now)
                .where((RecoveryCode.id == row.id) & RecoveryCode.used_at.is_null())
                .execute()
                == 1
            )
    return False


def verify_second_factor(
    user: User, code: str, now: datetime, pending: str | None = None
) -> str | None:
    """``"totp"`` or ``"recovery"`` when the code is accepted, else None.

    A code of a step already used, a wrong code and any code during back-off
    all give None. Failures are counted per account; the third in a row is
    e-mailed to the owner, the tenth locks the second factor for 15 minutes.
    The one exception: the code of a step just accepted for the same pending
    sign-in (``pending``, its key) is accepted again, uncounted, so a double
    click on "Sign in" signs in; from anywhere else it is a used code.
    """
    user = User.get_by_id(user.id)
    if user.otp_blocked_until and user.otp_blocked_until > now:
        return None
    secret = crypto.decrypt_secret(user.totp_secret)
    step = totp.matching_step(secret, code, now)
    if step is not None and consume_totp_step(user, step, pending):
        return "totp"
    if step is not None and pending and step_used_by(user, step, pending):
        return "totp"
    if step is None and consume_recovery_code(user, code, now):
        with db.atomic():
            User.update(failed_otps=0, otp_blocked_until=None).where(
                User.id == user.id
            ).execute()
            queue_mail(
                user.email,
                "recovery_code_used",
                user.language,
                name=user.first_name,
                left=remaining_recovery_codes(user),
            )
        return "recovery"
    failures = _record_otp_failure(user, now)
    security_event("second_factor_failed", user, failures=failures)
    return None


def record_login(user: User, now: datetime) -> None:
    User.update(last_login_at=now).where(User.id == user.id).execute()


def end_session(user: User, sid: str, now: datetime) -> None:
    """Sign out one session of ``user`` (its cookie's ``sid``); the others go on.

    Records that are older than the absolute session limit are deleted: their
    cookies are refused by their own age by now.
    """
    oldest = now - timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    with db.atomic():
        EndedSession.delete().where(EndedSession.ended_at < oldest).execute()
        EndedSession.insert(
            sid=sid, user=user.id, ended_at=now
        ).on_conflict_ignore().execute()


def end_sessions(user: User) -> str:
    """Rotate the session token: every cookie issued before stops working."""
    token = new_session_token()
    User.update(session_token=token).where(User.id == user.id).execute()
    user.session_token = token
    return token


def set_notifications(user: User, wanted: bool, actor: User, now: datetime) -> None:
    """Turn the user's case e-mails on or off; ``actor`` is who did (the user)."""
    with db.atomic():
        User.update(notify_by_email=wanted).where(User.id == user.id).execute()
        user.notify_by_email = wanted
        audit(
            "notifications_on" if wanted else "notifications_off",
            actor=actor,
            object_type="user",
            object_id=user.id,
            now=now,
        )


def replace_authenticator(
    user: User, key: str | None, code: str, now: datetime
) -> list[str] | None:
    """A signed-in user's new authenticator: ``confirm_enrolment`` (None when
    the code is wrong, nothing written), recorded and e-mailed to the address on
    file in the same transaction (someone who took the session over is seen)."""
    with db.atomic():
        codes = confirm_enrolment(user, key, code, now)
        if codes is None:
            return None
        audit("totp_reset", actor=user, object_type="user", object_id=user.id, now=now)
        queue_mail(
            user.email, "authenticator_changed", user.language, name=user.first_name
        )
    security_event("totp_reset", user)
    return codes


def replace_recovery_codes(user: User) -> list[str]:
    """Ten new recovery codes for ``user`` (the old ones void); every session
    ends, as after a new authenticator."""
    with db.atomic():
        codes = issue_recovery_codes(user)
        end_sessions(user)
    security_event("recovery_codes_regenerated", user)
    return codes


CONTACT_FIELDS = ("name", "company", "nip", "email", "phone", "message")


def send_contact_request(fields: dict, now: datetime) -> ContactRequest:
    """Store a message of the contact form (``CONTACT_FIELDS``; no account
    needed, so no actor) and e-mail it to the help desk, in one transaction."""
    values = {name: fields.get(name) or "" for name in CONTACT_FIELDS}
    with db.atomic():
        row = ContactRequest.create(created_at=now, **values)
        queue_mail(settings.value("HELP_EMAIL"), "contact_request", "pl", **values)
    return row


# -- password reset and changes ---------------------------------------------


def request_password_reset(email: str, now: datetime) -> None:
    """E-mail a reset link to an active account; silently nothing otherwise."""
    user = User.get_or_none((User.email == email.strip().lower()) & User.is_enabled)
    if user is None or user.totp_secret is None:
        return
    if user.external_identities.exists():
        # V-ZAM's people sign in there: a password of ours would outlive
        # their V-ZAM account.
        return
    recent = (
        AuthToken.select()
        .where(
            (AuthToken.user == user)
            & (AuthToken.purpose == "reset")
            & (AuthToken.created_at > now - timedelta(hours=1))
        )
        .count()
    )
    if recent >= RESETS_PER_HOUR:
        security_event("password_reset_throttled", user)
        return
    with db.atomic():
        # A newer link voids the older ones.
        AuthToken.update(used_at=now).where(
            (AuthToken.user == user)
            & (AuthToken.purpose == "reset")
            & AuthToken.used_at.is_null()
        ).execute()
        token = _issue_token(user, "reset", now)
        queue_mail(
            user.email,
            "password_reset",
            user.language,
            name=user.first_name,
            link=public_url(f"/{user.language}/password/reset/{token}"),
        )
    security_event("password_reset_requested", user)


def reset_password(token: str, password: str, now: datetime) -> User | None:
    """Set a new password with a reset link; ends all sessions, notifies the owner."""
    with db.atomic():
        user = consume_token(token, "reset", now)
        if user is None:
            return None
        set_password(user, password)
        throttle.clear_account(user.email)
        end_sessions(user)
        queue_mail(user.email, "password_changed", user.language, name=user.first_name)
    security_event("password_reset_completed", user)
    return user


def change_password(user: User, password: str) -> None:
    """Change the password of a re-authenticated user; other sessions end.

    Reset links still open are voided: they were asked for the old password.
    """
    with db.atomic():
        set_password(user, password)
        end_sessions(user)
        AuthToken.update(used_at=utcnow()).where(
            (AuthToken.user == user)
            & (AuthToken.purpose == "reset")
            & AuthToken.used_at.is_null()
        ).execute()
        queue_mail(user.email, "password_changed", user.language, name=user.first_name)
    security_event("password_changed", user)


def reauthenticate(user: User, password: str, code: str, now: datetime) -> bool:
    """Fresh proof for a sensitive change: the password and a second factor."""
    if not passwords.check_password(user.password_hash, password):
        security_event("reauthentication_failed", user)
        return False
    return verify_second_factor(user, code, now) is not None


# -- staff-assisted recovery ---------------------------------------------------


def proof_matches_company(
    user: User, nip: str, contract_number: str, serial: str, now: datetime
) -> bool:
    """The registration triple, checked against the user's own company."""
    contract = find_contract(contract_number)
    return bool(
        user.company_id
        and contract is not None
        and normalize_nip(nip) == user.company.nip
        and contract.customer_id == user.company_id
        and contract.is_active_on(now.date())
        and covered_device(contract, serial) is not None
    )


def staff_reset_authenticator(user: User, actor: User, now: datetime) -> None:
    """Void the user's password, authenticator and recovery codes after the
    customer proved the contract again to ``actor``; e-mail the address on file a
    one-time link to set them up anew (the engineer never learns or sets them).
    """
    with db.atomic():
        User.update(
            totp_secret=None,
            password_hash=None,
            totp_last_step=0,
            failed_otps=0,
            otp_blocked_until=None,
        ).where(User.id == user.id).execute()
        RecoveryCode.delete().where(RecoveryCode.user == user).execute()
        end_sessions(user)
        AuthToken.update(used_at=now).where(
            (AuthToken.user == user) & AuthToken.used_at.is_null()
        ).execute()
        token = _issue_token(user, "invite", now)
        queue_mail(
            user.email,
            "authenticator_reset_by_staff",
            user.language,
            name=user.first_name,
            link=public_url(f"/{user.language}/invite/{token}"),
        )
        audit("totp_reset_by_staff", actor=actor, object_type="user", object_id=user.id)
    security_event("totp_reset_by_staff", user, actor=actor.id)


class AccountErased(ValueError):
    """The account was erased (GDPR Art. 17): it is never enabled again."""


def set_enabled(user: User, enabled: bool, actor: User) -> None:
    """Disable (ending every session at once) or enable an account; an erased
    account is never enabled again (``AccountErased``, nothing written)."""
    if enabled and user.erased_at is not None:
        raise AccountErased()
    with db.atomic():
        User.update(is_enabled=enabled).where(User.id == user.id).execute()
        if not enabled:
            end_sessions(user)
        audit(
            "account_enabled" if enabled else "account_disabled",
            actor=actor,
            object_type="user",
            object_id=user.id,
        )


# -- the user's own profile -------------------------------------------------

#: What a user edits on their account page; V-ZAM's people get their name
#: (and e-mail) from V-ZAM, so for them the name is not theirs to edit here.
PROFILE_FIELDS = ("first_name", "last_name", "phone", "position", "language")
PROVIDER_FIELDS = ("first_name", "last_name")


def from_provider(user: User) -> bool:
    """True for an account linked to V-ZAM (name and e-mail come from there)."""
    return user.external_identities.exists()


def _changed(user: User, field: str, old, new, actor: User, now: datetime) -> None:
    audit(
        f"{field}_changed" if field == "email" else "profile_changed",
        actor=actor,
        object_type="user",
        object_id=user.id,
        details=json.dumps({"field": field, "old": old, "new": new}),
        now=now,
    )


def update_profile(user: User, values: dict, actor: User, now: datetime) -> list[str]:
    """Save the profile fields in ``values`` that differ (one audit event
    each, with the old and new value); returns the names of those changed.
    Fields outside ``PROFILE_FIELDS``, and a V-ZAM account's name, are ignored."""
    allowed = [
        f
        for f in PROFILE_FIELDS
        if f in values and not (f in PROVIDER_FIELDS and from_provider(user))
    ]
    changes = {
        f: str(values[f] or "").strip()
        for f in allowed
        if str(values[f] or "").strip() != getattr(user, f)
    }
    if not changes:
        return []
    with db.atomic():
        User.update(**changes).where(User.id == user.id).execute()
        for field, new in changes.items():
            _changed(user, field, getattr(user, field), new, actor, now)
            setattr(user, field, new)
    return list(changes)


class EmailTaken(ValueError):
    """The address belongs to another account."""


def email_taken(email: str, user: User) -> bool:
    return (
        User.select()
        .where((User.email == email.strip().lower()) & (User.id != user.id))
        .exists()
    )


def request_email_change(user: User, new_email: str, actor: User, now: datetime):
    """Send a link to ``new_email`` that makes it the account's address, and
    tell the present address (its owner sees a change they did not ask for).
    Older links of the account are void. Raises EmailTaken when another
    account has the address; the same address again changes nothing."""
    new_email = new_email.strip().lower()
    if new_email == user.email:
        return None
    if email_taken(new_email, user):
        raise EmailTaken(new_email)
    with db.atomic():
        AuthToken.update(used_at=now).where(
            (AuthToken.user == user)
            & (AuthToken.purpose == "email_change")
            & AuthToken.used_at.is_null()
        ).execute()
        token = _issue_token(user, "email_change", now)
        AuthToken.update(new_email=new_email).where(
            AuthToken.token_hash == crypto.token_hash(token)
        ).execute()
        audit(
            "email_change_requested",
            actor=actor,
            object_type="user",
            object_id=user.id,
            details=json.dumps({"old": user.email, "new": new_email}),
            now=now,
        )
        queue_mail(
            new_email,
            "email_change_confirm",
            user.language,
            name=user.first_name,
            link=public_url(f"/{user.language}/account/email/{token}"),
        )
        queue_mail(
            user.email,
            "email_change_notice",
            user.language,
            name=user.first_name,
            new_email=new_email,
        )
    security_event("email_change_requested", user)
    return token


def confirm_email_change(token: str, now: datetime) -> User | None:
    """Make the link's new address the account's: once, before it expires,
    while no other account has it (EmailTaken: nothing is written, and two
    accounts confirming one address at once get one winner and one refusal,
    by the unique index). None for an invalid, expired or used link."""
    try:
        with db.atomic():
            user = consume_token(token, "email_change", now)
            if user is None:
                return None
            row = AuthToken.get(AuthToken.token_hash == crypto.token_hash(token))
            if email_taken(row.new_email, user):
                raise EmailTaken(row.new_email)
            User.update(email=row.new_email).where(User.id == user.id).execute()
            _changed(user, "email", user.email, row.new_email, user, now)
    except IntegrityError as exc:
        raise EmailTaken(token) from exc
    security_event("email_changed", user)
    return User.get_by_id(user.id)


def colleagues(viewer: User) -> list[User]:
    """The enabled portal accounts of the viewer's company (its customers' or
    its partner's people), the viewer among them; nobody without a company."""
    if not viewer.company_id:
        return []
    return list(
        User.select()
        .where(
            (User.company == viewer.company_id)
            & (User.role == viewer.role)
            & (User.is_enabled == True)  # noqa: E712
        )
        .order_by(User.last_name, User.first_name, User.id)
    )
