"""Partners sign in with V-ZAM, the distributor's sales system, over OpenID Connect.

Authlib's Flask client does the protocol: authorization code flow with PKCE
(S256), ``state`` and ``nonce`` kept in the signed session, the ID token's
signature checked against the provider's JWKS and its claims (``iss``, ``aud``,
``exp``, ``iat``, ``nonce``, ``at_hash``) validated. The discovery document and
the keys are cached per process (``VZAM_METADATA_TTL_SECONDS``; the keys are
fetched again at once when a token names an unknown key).

A person is matched by the provider's ``sub`` (``ExternalIdentity``), the
company by the NIP claim (``VZAM_NIP_CLAIM``), never by e-mail. The first
sign-in of a new person of a known partner company creates the account
(``VZAM_CREATE_ACCOUNTS``), or links the one a staff invitation made. When the
provider asserts multi-factor authentication (``amr``/``acr``) our TOTP step
is skipped; otherwise the authenticator is enrolled or asked for as usual.
"""

import secrets
from datetime import datetime

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import OAuthError
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from joserfc.errors import JoseError as JoseRfcError
from peewee import IntegrityError

from ..audit import audit, security_event
from ..db import db, utcnow
from ..extensions import limit_gets
from ..i18n import preferred_language
from ..identifiers import normalize_nip
from ..models import Company, Contract, ExternalIdentity, User
from ..security import now_ts, public
from . import bp, services
from .oidc import ProviderError, client, configured

#: The redirect URI registered at the provider: one per host, no language.
callback_bp = Blueprint("vzam", __name__)

#: Session keys of a sign-in between our redirect and the provider's answer.
PENDING_KEYS = ("vzam_lang", "vzam_next", "vzam_invite")


# -- the flow ----------------------------------------------------------------


def _limit():
    return limit_gets(lambda: current_app.config["LOGIN_RATE_LIMIT"])


@bp.get("/login/vzam")
@public
@_limit()
def vzam_login():
    """Send the browser to V-ZAM (``invite``: the link of a staff invitation)."""
    if not configured():
        abort(404)
    if current_user.is_authenticated:
        from .views import home_for

        return redirect(home_for(current_user))
    from .views import safe_next

    for key in PENDING_KEYS:
        session.pop(key, None)
    session["vzam_lang"] = g.get("lang") or preferred_language()
    if target := safe_next(request.args.get("next")):
        session["vzam_next"] = target
    if invite := request.args.get("invite"):
        session["vzam_invite"] = invite[:128]
    try:
        return client().authorize_redirect(url_for("vzam.callback", _external=True))
    except (requests.RequestException, ValueError, ProviderError) as exc:
        security_event("vzam_unavailable", reason=type(exc).__name__)
        return refused("unavailable", 503)


@callback_bp.get("/vzam/callback")
@public
@_limit()
def callback():
    """The provider's answer: check it, find or create the person, then the
    second factor (V-ZAM's, or our TOTP)."""
    g.lang = session.get("vzam_lang") or preferred_language()
    if not configured():
        abort(404)
    try:
        token = client().authorize_access_token(
            leeway=current_app.config["VZAM_CLOCK_SKEW_SECONDS"]
        )
    except OAuthError as exc:  # state unknown or reused, the provider's error
        security_event("vzam_refused", reason=exc.error)
        return refused("failed", 400)
    except (AuthlibBaseError, JoseRfcError, ValueError, KeyError, TypeError) as exc:
        security_event("vzam_refused", reason=type(exc).__name__)  # the ID token
        return refused("failed", 400)
    except (requests.RequestException, ProviderError) as exc:
        security_event("vzam_unavailable", reason=type(exc).__name__)
        return refused("unavailable", 503)
    claims = token.get("userinfo")
    if not claims:  # no ID token: nothing was verified
        security_event("vzam_refused", reason="no_id_token")
        return refused("failed", 400)
    invite = session.get("vzam_invite")
    user, problem = person_of(claims, invite, utcnow())
    if user is None:
        security_event("vzam_refused", reason=problem, sub=claims.get("sub"))
        return refused(problem, 403, nip=normalize_nip(_nip_claim(claims)))
    return second_factor(user, provider_asserted_mfa(claims), session.get("vzam_next"))


def second_factor(user: User, asserted: bool, next_url: str | None):
    from .views import begin_setup, home_for, start_session

    if asserted:
        session["vzam"] = True
        start_session(user, "vzam_mfa")
        session["provider_mfa"] = True
        return redirect(next_url or home_for(user), 303)
    if user.totp_secret is not None:
        session.clear()
        session["mfa_user_id"], session["pw_ok_at"] = user.id, now_ts()
        session["mfa_key"] = secrets.token_urlsafe(16)
        session["vzam"] = True
        return redirect(url_for("accounts.login_code", next=next_url), 303)
    begin_setup(user)
    session["vzam"] = session["setup_without_password"] = True
    return redirect(url_for("accounts.setup_authenticator"), 303)


def provider_asserted_mfa(claims) -> bool:
    cfg = current_app.config
    amr = claims.get("amr") or []
    amr = [amr] if isinstance(amr, str) else amr
    acr = claims.get("acr")
    return bool(set(map(str, amr)) & set(cfg["VZAM_MFA_AMR_VALUES"])) or (
        acr is not None and acr in cfg["VZAM_MFA_ACR_VALUES"]
    )


def _nip_claim(claims) -> str | None:
    value = claims.get(current_app.config["VZAM_NIP_CLAIM"])
    return value if isinstance(value, str) else None


# -- who it is -----------------------------------------------------------------


def person_of(
    claims, invite: str | None, now: datetime
) -> tuple[User | None, str | None]:
    """The account of a verified ID token, or (None, why not).

    Known ``sub``: its account, while its company is the one the NIP claim
    names. Unknown: a partner company of the register by its NIP, then the
    account an invitation made, or (``VZAM_CREATE_ACCOUNTS``) a new one.
    """
    issuer, subject = current_app.config["VZAM_ISSUER"], str(claims["sub"])
    nip = normalize_nip(_nip_claim(claims))
    identity = (
        ExternalIdentity.select(ExternalIdentity, User)
        .join(User)
        .where(
            (ExternalIdentity.issuer == issuer) & (ExternalIdentity.subject == subject)
        )
        .first()
    )
    if identity is not None:
        user = identity.user
        if not user.is_enabled:
            return None, "disabled"
        if nip is None or user.company is None or user.company.nip != nip:
            return None, "company_changed"
        ExternalIdentity.update(last_login_at=now).where(
            ExternalIdentity.id == identity.id
        ).execute()
        return user, None
    if nip is None:
        return None, "no_company"
    company = partner_company(nip)
    if company is None:
        return None, "unknown_company"
    if invite:
        return _link_invited(invite, company, issuer, subject, now)
    if not current_app.config["VZAM_CREATE_ACCOUNTS"]:
        return None, "invitation_required"
    return _create_account(claims, company, issuer, subject, now)


def partner_company(nip: str) -> Company | None:
    """The company with this NIP, if the register names it partner of a contract."""
    return (
        Company.select()
        .where(
            (Company.nip == nip)
            & Company.id.in_(
                Contract.select(Contract.partner).where(Contract.partner.is_null(False))
            )
        )
        .first()
    )


def _link_invited(invite, company, issuer, subject, now):
    row = services.valid_token(invite, "invite", now)
    if row is None:
        return None, "invitation_invalid"
    invited = row.user
    if invited.role != "partner" or invited.company_id != company.id:
        return None, "invitation_other_company"
    with db.atomic():
        user = services.consume_token(invite, "invite", now)
        if user is None:
            return None, "invitation_invalid"
        ExternalIdentity.create(
            user=user, issuer=issuer, subject=subject, last_login_at=now
        )
        audit("vzam_linked", actor=user, object_type="user", object_id=user.id)
    return User.get_by_id(user.id), None


def _create_account(claims, company, issuer, subject, now):
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None, "no_email"
    if claims.get("email_verified") is False:
        return None, "no_email"
    email = email.strip().lower()[:254]
    if User.select().where(User.email == email).exists():
        return None, "email_taken"
    given = claims.get("given_name") or claims.get("name") or ""
    try:
        with db.atomic():
            user = User.create(
                email=email,
                first_name=str(given)[:80],
                last_name=str(claims.get("family_name") or "")[:80],
                role="partner",
                company=company,
                language=g.get("lang") or "pl",
                created_at=now,
            )
            ExternalIdentity.create(
                user=user, issuer=issuer, subject=subject, last_login_at=now
            )
            audit(
                "vzam_account_created",
                actor=user,
                object_type="user",
                object_id=user.id,
            )
    except IntegrityError:  # the same person's other tab, at the same moment
        identity = ExternalIdentity.get_or_none(
            (ExternalIdentity.issuer == issuer) & (ExternalIdentity.subject == subject)
        )
        if identity is None:
            return None, "email_taken"
        return User.get_by_id(identity.user_id), None
    return user, None


# -- refusals ------------------------------------------------------------------


def refused(reason: str, status: int, nip: str | None = None):
    return render_template("accounts/vzam_refused.html", reason=reason, nip=nip), status
