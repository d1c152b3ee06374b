"""Who may open which route, and the life of a signed-in session.

Every view declares its access rule with one of the decorators below. A view
without one answers 404: access is denied by default, and a test walks the URL
map to keep it that way. Roles are checked on every request against the user
row, never cached in the session.
"""

import time
from dataclasses import dataclass
from functools import cache

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user, login_user, logout_user
from peewee import JOIN, SQL, fn

from .audit import access_denied, security_event
from .extensions import counting_posts, limiter
from .htmx import wants_fragment
from .statements import Statement, param

login_manager = LoginManager()
ACCESS_ATTR = "_hezo_access"
SEEN_AT_STEP_SECONDS = 60
#: Pages a proxy may keep for a short while when asked without a session: they
#: show nothing of a visitor (the landing page in each language).
PUBLIC_PAGES = frozenset({"public.home"})
PUBLIC_MAX_AGE = 300


@dataclass(frozen=True)
class Access:
    kind: str  # public | mfa | setup | roles
    roles: tuple[str, ...] = ()


def _declare(access: Access):
    def decorate(view):
        setattr(view, ACCESS_ATTR, access)
        return view

    return decorate


public = _declare(Access("public"))
mfa_pending = _declare(Access("mfa"))  # between password and second factor
setup_pending = _declare(Access("setup"))  # activation: password + authenticator


def roles_required(*roles: str):
    return _declare(Access("roles", tuple(roles)))


signed_in = roles_required("customer", "partner", "engineer", "admin")
customer_required = roles_required("customer")
partner_required = roles_required("partner")
staff_required = roles_required("engineer", "admin")
admin_required = roles_required("admin")


def access_of(view) -> Access | None:
    return getattr(view, ACCESS_ATTR, None)


def post_limit():
    """Per client address: the POSTs of a page that checks a password, a code
    or a token (``LOGIN_RATE_LIMIT``), so that none is guessed at speed."""
    return counting_posts(
        limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
    )


def signed_in_user(token: str, sid: str, provider_mfa: bool = False):
    """The enabled, enrolled user of a session token, while the session (its
    ``sid``) has not been signed out, or None: read on every request, with
    their company (pages show its name). One statement.

    ``provider_mfa``: a session whose second factor V-ZAM asserted; its user
    needs no authenticator of ours, but a V-ZAM identity."""
    return _signed_in_user(provider_mfa).bind(token=token, sid=sid).first()


@cache
def _signed_in_user(provider_mfa: bool = False) -> Statement:
    """A cached statement (``hezo.statements``): it runs on every request, and
    building the text of its 23 columns each time cost about 0.6 ms of CPU
    (bench/PAGES.md, 2026-12-02)."""
    from .models import Company, EndedSession, ExternalIdentity, User

    ended = EndedSession.select(SQL("1")).where(EndedSession.sid == param("sid"))
    if provider_mfa:
        enrolled = fn.EXISTS(
            ExternalIdentity.select(SQL("1")).where(ExternalIdentity.user == User.id)
        )
    else:
        enrolled = User.totp_secret.is_null(False)
    return Statement(
        User.select(User, Company)
        .join(Company, JOIN.LEFT_OUTER)
        .where(
            (User.session_token == param("token"))
            & (User.is_enabled == True)  # noqa: E712
            & enrolled
            & ~fn.EXISTS(ended)
        )
        .limit(1)
    )


def begin_session(user) -> None:
    """Sign ``user`` in on this browser as a session of its own (a new ``sid``:
    signing out ends this one session and no other)."""
    from .models.accounts import new_session_id

    login_user(user)
    session["sid"] = new_session_id()


def now_ts() -> int:
    return int(time.time())


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its signing serializer made once per
    secret key: Flask makes a new one on every request (~40 us)."""

    _made: tuple = (None, None)

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made_for, serializer = self._made
        if made_for != keys:
            serializer = super().get_signing_serializer(app)
            self._made = (keys, serializer)
        return serializer


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    login_manager.init_app(app)
    login_manager.session_protection = None  # timeouts below, token rotation in get_id

    @login_manager.user_loader
    def _load(token):
        sid = session.get("sid")
        if not sid:  # every sign-in sets one (begin_session)
            return None
        return signed_in_user(token, sid, bool(session.get("provider_mfa")))

    login_manager.unauthorized_handler(_unauthorized)
    app.before_request(_expire_session)
    app.before_request(_enforce_access)

    @app.after_request
    def _no_store(response):
        if request.endpoint == "static":
            return response
        if (
            request.endpoint in PUBLIC_PAGES
            and response.status_code == 200
            and not session
            and not session.modified
        ):
            # The same page for every visitor without a session (and so
            # without a cookie, which a shared cache would key on: Vary).
            response.headers["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
            response.vary.add("Cookie")
        else:
            response.headers["Cache-Control"] = "no-store"
        return response


def _expire_session():
    """Idle (30 min) and absolute (12 h) limits, from timestamps in the session."""
    if request.endpoint == "static":  # public files: no user to load for them
        return
    if not current_user.is_authenticated:
        return
    now = now_ts()
    cfg = current_app.config
    idle = now - session.get("seen_at", 0) > cfg["SESSION_IDLE_MINUTES"] * 60
    absolute = now - session.get("auth_at", 0) > cfg["SESSION_ABSOLUTE_HOURS"] * 3600
    if idle or absolute:
        security_event(
            "session_expired", current_user, reason="idle" if idle else "absolute"
        )
        logout_user()
        session.clear()
        session["expired"] = True
        return
    # Moved at most once a minute: a changed session is signed and sent again
    # as a cookie on every response. The idle limit can only end a session up
    # to a minute early, never late.
    if now - session.get("seen_at", 0) >= SEEN_AT_STEP_SECONDS:
        session["seen_at"] = now


def mfa_state_valid() -> bool:
    started = session.get("pw_ok_at", 0)
    pending = session.get("mfa_user_id") or session.get("mfa_ticket")
    return bool(pending) and (
        now_ts() - started <= current_app.config["MFA_PENDING_SECONDS"]
    )


def setup_state_valid() -> bool:
    started = session.get("setup_at", 0)
    return bool(session.get("setup_user_id")) and now_ts() - started <= 1800


def _enforce_access():
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static":
        return None
    access = access_of(current_app.view_functions[endpoint])
    if access is None:
        security_event("route_without_access_rule", endpoint=endpoint)
        abort(404)
    if access.kind == "public":
        return None
    if access.kind == "mfa":
        return None if mfa_state_valid() else _to_login()
    if access.kind == "setup":
        return None if setup_state_valid() else _to_login()
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in access.roles:
        access_denied(current_user, object="route", path=request.path)
        abort(404)
    return None


def _to_login():
    return _redirect(url_for("accounts.login"))


def _redirect(url: str):
    if wants_fragment():
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url)


def _unauthorized():
    if mfa_state_valid():
        return _redirect(url_for("accounts.login_code"))
    return _redirect(
        url_for(
            "accounts.login",
            # full_path ends in "?" even without a query string.
            next=(request.full_path if request.query_string else request.path)
            if request.method == "GET" and not wants_fragment()
            else None,
        )
    )
