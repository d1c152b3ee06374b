"""Cross-cutting web behaviour: security headers, error pages, start-up checks."""

import logging
import re
import secrets

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from peewee import OperationalError
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

from .audit import security_event
from .htmx import hx_refresh, wants_fragment

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

#: Phone numbers shown as ``tel:`` links; checked at start-up.
PHONE_SETTINGS = ("HELPLINE_PHONE", "ESCALATION_PHONE")
_PHONE_SEPARATORS = re.compile(r"[\s()./-]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def tel_uri(phone: str) -> str:
    """The ``tel:`` URI (E.164, no separators) of a number written as
    ``+48 12 25 25 600``; ValueError for a number without its country code."""
    digits = _PHONE_SEPARATORS.sub("", str(phone))
    if not _E164.fullmatch(digits):
        raise ValueError(
            f"{phone!r} is not an international phone number (e.g. +48 12 25 25 600)"
        )
    return "tel:" + digits


def init_app(app: Flask) -> None:
    hops = int(app.config.get("PROXY_FIX_HOPS", 0))
    if hops:
        # Exactly as many proxies as the deployment has: more would let a client
        # choose its own address (and its own rate-limit bucket).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    # peewee logs every statement with its parameters at DEBUG: one-time link
    # tokens in mail bodies, session tokens, hashes. Keep them out of any log,
    # whatever the root level (to see SQL while debugging, lower it again).
    logging.getLogger("peewee").setLevel(logging.INFO)

    @app.before_request
    def _request_id():
        g.request_id = secrets.token_hex(8)

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    for name in PHONE_SETTINGS:
        try:
            tel_uri(app.config[name])
        except ValueError as exc:
            from . import ConfigurationError

            raise ConfigurationError(f"HEZO_{name}: {exc}") from None
    app.add_template_filter(tel_uri, "tel")

    @app.context_processor
    def _site():
        return {"site": app.config}

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(OperationalError, _database_busy)
    app.register_error_handler(Exception, _unexpected)


def _render_error(status: int, message: str | None = None):
    template = "errors/_error.html" if wants_fragment() else "errors/error.html"
    return render_template(template, status=status, message=message), status


def _http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    if isinstance(exc, SecurityError):
        # Untrusted Host header: build no URL from it, not even in the error page.
        return "Bad request", 400, {"Content-Type": "text/plain; charset=utf-8"}
    if exc.code == 429:
        security_event("rate_limited", endpoint=request.endpoint or "-")
    return _render_error(exc.code)


def _csrf_error(exc: CSRFError):
    # htmx does not swap 4xx bodies: ask it to reload the page for a fresh token.
    if wants_fragment():
        return hx_refresh()
    return _render_error(400)


def _database_busy(exc: OperationalError):
    log.warning("database unavailable (request %s): %s", g.get("request_id"), exc)
    body, status = _render_error(503)
    return body, status, {"Retry-After": "5"}


def _unexpected(exc: Exception):
    # The route's pattern, not the path: paths may hold one-time link tokens.
    rule = request.url_rule.rule if request.url_rule else "-"
    log.exception(
        "unhandled error (request %s) %s %s", g.get("request_id"), request.method, rule
    )
    return _render_error(500)
