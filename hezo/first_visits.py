"""A first visit's landing or sign-in page answered again without Flask.

``web.anonymous_page`` renders those pages once per language; what was left
of their cost was Flask's own request (the context, the hooks, the session
cookie and the CSRF token each signed, the headers), about four times the
bare floor's whole page (issue 21). A first visit (a GET with no cookie, no
query and no htmx header) can get nothing but that page: this middleware
keeps the whole answer the app gave the first such visit (status, headers,
body) and gives it to the next ones, each with a session cookie and CSRF
token of its own, made as Flask and Flask-WTF make them:

- a new random token in a new session (``{"csrf_token": <40 hex>}``), signed
  by the app's own session serializer into the cookie;
- that token signed by Flask-WTF's serializer (secret and salt as
  ``generate_csrf``'s) in its place in the page;
- every other header as the app sent it (security headers, Cache-Control,
  Vary); the landing page, without a form, sets no cookie at all.

Only answers the app marked (``mark``, from ``anonymous_page``) are kept, and
only when the cookie and token check out against those serializers. They
are kept with the layout's parts, which a settings change clears, and
given again only while the settings were checked within their interval
(``settings.fresh``): otherwise the visit goes to the app, which checks
them. Not in debug mode. Everything else goes to the app as before.
"""

import hashlib
import os
from collections.abc import Callable

from flask import Flask, request
from itsdangerous import BadData, URLSafeTimedSerializer

from . import settings

#: The environ key ``mark`` sets: the page's CSRF token ("" without a form).
MARK = "hezo.first_visit"
#: Kept answers at most (hosts and proxies' headers make the keys).
LIMIT = 64
#: Where they are kept among the layout's parts (``web._once``).
STORE = ("first visits",)
#: The request headers a first visit's page may depend on (besides the
#: path); not the client's address (X-Forwarded-For), which the pages do not show.
KEYED = (
    "HTTP_HOST",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
)


def mark(token: str) -> None:
    """Tell the middleware that this request's answer is the same for every
    first visit but for the CSRF ``token`` ("": no form, no cookie)."""
    request.environ[MARK] = token


class FirstVisits:
    """WSGI middleware around the app (see the module's text)."""

    def __init__(self, app: Flask, wsgi_app: Callable):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        if not _first_visit(environ) or self.app.debug:
            return self.wsgi_app(environ, start_response)
        # Kept with the layout's parts: a settings change clears them all.
        parts = self.app.extensions["hezo_page_parts"]
        kept = parts.get(STORE) or {}
        key = (
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ["wsgi.url_scheme"],
            *(environ.get(name) for name in KEYED),
        )
        answer = kept.get(key)
        if answer is not None and settings.fresh(self.app):
            return answer.answer(start_response)
        started = []

        def start(status, headers, exc_info=None):
            started[:] = [status, headers]
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, start)
        token = environ.get(MARK)
        if token is None or not started or not started[0].startswith("200 "):
            return body
        try:
            data = b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()
        answer = _Answer.of(self.app, *started, data, token)
        kept = parts.get(STORE) or {}  # as now: this request may have cleared it
        if answer is not None and len(kept) < LIMIT:
            parts[STORE] = {**kept, key: answer}  # (replaced whole: no lock needed)
        return [data]


def _first_visit(environ) -> bool:
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and not environ.get("QUERY_STRING")
        and "HTTP_COOKIE" not in environ
        and not any(name.startswith("HTTP_HX_") for name in environ)
    )


class _Answer:
    """A kept answer: its status and headers, its body around the token."""

    __slots__ = ("status", "headers", "texts", "cookie", "session", "csrf", "field")

    @classmethod
    def of(cls, app: Flask, status: str, headers: list, data: bytes, token: str):
        """The answer to keep, or None when it is not what this module makes."""
        cookies = [value for name, value in headers if name.lower() == "set-cookie"]
        session = app.session_interface.get_signing_serializer(app)
        csrf = URLSafeTimedSerializer(
            app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key,
            salt="wtf-csrf-token",
        )
        field = app.config.get("WTF_CSRF_FIELD_NAME") or "csrf_token"
        self = cls()
        self.status, self.session, self.csrf, self.field = status, session, csrf, field
        self.headers = [
            (name, value)
            for name, value in headers
            if name.lower() not in ("set-cookie", "content-length")
        ]
        if not token:
            if cookies:
                return None
            self.texts, self.cookie = [data], None
            return self
        if len(cookies) != 1 or session is None:
            return None
        name, _, rest = cookies[0].partition("=")
        value, _, attributes = rest.partition(";")
        if name != app.config["SESSION_COOKIE_NAME"] or "expires" in attributes.lower():
            return None  # a permanent session's cookie carries its own date
        try:
            contents = session.loads(value)
            raw = csrf.loads(token)
        except BadData:
            return None
        if contents != {field: raw}:
            return None
        self.texts = data.split(token.encode())
        self.cookie = (name + "=", ";" + attributes)
        return self

    def answer(self, start_response) -> list[bytes]:
        headers = list(self.headers)
        if self.cookie is None:
            data = self.texts[0]
        else:
            raw = hashlib.sha1(os.urandom(64)).hexdigest()  # as generate_csrf
            data = self.csrf.dumps(raw).encode().join(self.texts)
            value = self.session.dumps({self.field: raw})
            headers.append(("Set-Cookie", self.cookie[0] + value + self.cookie[1]))
        headers.append(("Content-Length", str(len(data))))
        start_response(self.status, headers)
        return [data]
