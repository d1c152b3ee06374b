"""Pages rendered once while nothing they show changes, and reused.

Rendering was two thirds to three quarters of the CPU of the pages people
open most (issue 21: the case page, the case list and the staff queue
against django-helpdesk's), and people reload them, come back to them and
open them from their e-mail far more often than what they show changes. So
the HTML a viewer got is kept, keyed on everything it shows:

- the viewer (account, role, company, the name in the menu), the language,
  the page (``name``) and the site settings (a change clears every kept
  page, as it clears the layout's parts: ``settings.py``);
- ``data``: what the page's view read for it now (``values``: its rows as
  read, with the rows joined to them) and whatever else its template is
  given; the case page's data is its case's row, whose ``revision`` the
  database raises on every change of the case's record (migration 0014);
- the time to ``BUCKET_SECONDS``: the relative times, clock states and
  deadlines on a page are at most that old (app.js keeps relative times
  current in the browser anyway).

Whatever a page shows beyond its ``data`` (another person's name on a
consent event, say) is at most ``BUCKET_SECONDS`` old. A reused page gets
this request's CSRF token, as the sign-in page does
(``web.anonymous_page``), and fresh one-time submission keys. Pages with
flashes to show and debug mode are rendered every time.
"""

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import fields, is_dataclass

from flask import (
    Response,
    current_app,
    make_response,
    render_template,
    request,
    session,
)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from peewee import Model

from . import settings
from .db import utcnow
from .htmx import wants_fragment
from .i18n import current_language
from .submissions import new_key

log = logging.getLogger(__name__)

#: How long the time-dependent parts of a kept page may be old (seconds).
BUCKET_SECONDS = 10
#: Pages kept per process (each 10-60 kB), the oldest dropped first.
MAX_PAGES = 256
#: A form's one-time submission key (``hezo.submissions``) in a rendered page.
SUBMISSION_KEY = r'(?<=name="submission_key" value=")[A-Za-z0-9_-]+'

_lock = threading.Lock()


def may_keep() -> bool:
    """Whether this request's page may be a kept one (nothing to show once)."""
    return not ("_flashes" in session or current_app.debug)


#: A model instance's own attributes, not what it read.
_BOOKKEEPING = frozenset(("__data__", "_dirty", "__rel__"))


def values(thing):
    """What a page shows of ``thing``, hashable: a model instance's values as
    read (its columns, the columns read beside them and the rows joined to
    it), dataclasses, lists, tuples, sets and dicts of such things, and plain
    values as they are."""
    if isinstance(thing, Model):
        extra = tuple(
            (name, values(value))
            for name, value in thing.__dict__.items()
            if name not in _BOOKKEEPING
        )
        joined = tuple(values(part) for part in thing.__rel__.values())
        return (type(thing), *thing.__data__.items(), extra, joined)
    if is_dataclass(thing) and not isinstance(thing, type):  # paging.Page, say
        return (type(thing), values(astuple_shallow(thing)))
    if isinstance(thing, list | tuple):
        return tuple(values(item) for item in thing)
    if isinstance(thing, set | frozenset):
        return frozenset(values(item) for item in thing)
    if isinstance(thing, dict):
        return tuple((key, values(value)) for key, value in thing.items())
    return thing


def astuple_shallow(thing) -> tuple:
    """A dataclass's fields, not copied (``dataclasses.astuple`` deep-copies)."""
    return tuple(getattr(thing, f.name) for f in fields(thing))


def page(name: str, data: tuple, render: Callable[[], str]) -> str:
    """Page ``name`` for this request: the kept one when neither the viewer
    nor ``data`` changed, else ``render()`` (kept for the next request)."""
    app = current_app._get_current_object()
    settings.current(app)  # a changed setting clears the kept pages
    user = current_user
    key = (
        name,
        current_language(),
        request.script_root,
        user.id,
        user.role,
        user.company_id,
        user.first_name,
        user.last_name,
        user.company.name if user.company_id else "",
        int(utcnow().timestamp()) // BUCKET_SECONDS,
        data,
    )
    pages = app.extensions.setdefault("hezo_kept_pages", {})
    token = generate_csrf()  # the one the page renders, if it renders now
    try:
        kept = pages.get(key)
    except TypeError:  # a value ``values`` cannot make hashable: not kept
        log.warning("page %s not kept: its data cannot be a key", name)
        return render()
    if kept is not None:
        return _filled(*kept, token)
    html = render()
    with _lock:
        while len(pages) >= MAX_PAGES:
            pages.pop(next(iter(pages)), None)
        pages[key] = _slots(html, token)
    return html


def page_or_fragment(
    name: str, page_template: str, fragment: str, context: dict, data=None
) -> Response:
    """``htmx.render_page_or_fragment`` through ``page``: kept for ``data``
    (the context's ``values`` unless given), the fragment and the whole page
    each for itself."""
    template = fragment if wants_fragment() else page_template
    if may_keep():
        key = (template, values(context) if data is None else data)
        html = page(name, key, lambda: render_template(template, **context))
    else:
        html = render_template(template, **context)
    response = make_response(html)
    response.vary.add("HX-Request")
    return response


def _slots(html: str, token: str) -> tuple[list[str], list[bool]]:
    """The page's text around its CSRF tokens and submission keys, and which
    of the two each gap held (True: the token)."""
    pattern = re.compile(f"{re.escape(token)}|{SUBMISSION_KEY}")
    return pattern.split(html), [m.group() == token for m in pattern.finditer(html)]


def _filled(texts: list[str], tokens: list[bool], token: str) -> str:
    """A kept page with this request's CSRF token and fresh submission keys
    (a key is good for one post: two tabs of one page must not share one)."""
    out = [texts[0]]
    for text, is_token in zip(texts[1:], tokens, strict=True):
        out += (token if is_token else new_key(), text)
    return "".join(out)
