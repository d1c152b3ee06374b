"""The floor: the measured pages rendered by a bare Flask + Jinja app from memory.

    gunicorn --chdir bench 'floor_app:create_app()'    # env as for the real app,
                                                       # plus BENCH_MANIFEST

At start-up each worker builds the real app once (``hezo.create_app()``, from
the same ``HEZO_*`` environment as the measured app) only to fetch, with the
app's own query functions, exactly the data each measured page shows: the
contract page and a search of it, the case list and the 50-message case of the
big company's customer, the queue of the engineer. Then it unbinds the
database (any later query raises) and serves, from a bare ``Flask`` app, the
app's real templates (``hezo/templates/``) rendered with that data:

- the same Jinja templates and macros, autoescaped, with ``jinja2.ext.i18n``
  and null translations (the pages are measured in English, the source
  language, so the text is the same), and the same ``url_for`` rules (copied
  from the real URL map, ``lang`` filled in by a URL default as in the app);
- dates formatted by Babel in Europe/Warsaw, as the app's filters do;
- no database, no session, sign-in, CSRF, rate limiter, request hooks or
  security headers: ``csrf_token()`` is a constant and ``current_user`` a
  preloaded row.

So the floor costs what any Flask + Jinja page of this HTML costs under the
same gunicorn; what the app takes beyond it is the database and the
per-request machinery. ``bench_pages.py`` compares the two bodies (size and
identical lines) to show they are the same page.
"""

import gc
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from flask import Flask, abort, render_template
from markupsafe import Markup
from werkzeug.routing import BaseConverter
from wtforms import Form

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WARSAW = ZoneInfo("Europe/Warsaw")
LOCALE = Locale.parse("en")
CSRF_TOKEN = "IjBmMzI4ZWE1YjM3ZTQ0ODI5ZjE3Y2Q3YjVjZTg0ODE3MjhiYjBkZTci.floor"

#: The measured pages: who sees them and the real app's path (``str.format``
#: with the workspace manifest). The floor serves the same page at /floor/<name>.
PAGES = {
    "contracts": ("customer", "/en/contracts/"),
    "contracts_search": ("customer", "/en/contracts/?q={search}"),
    "cases": ("customer", "/en/cases/"),
    "case_50": ("customer", "/en/cases/{case_50}"),
    "queue": ("engineer", "/en/staff/"),
}


def real_path(name: str, manifest: dict) -> str:
    return PAGES[name][1].format(**manifest)


def _relative(value) -> str:
    """hezo.i18n.format_relative in English, without the app's request."""
    from babel.dates import format_timedelta

    from hezo.i18n import EN_GB, RELATIVE_THRESHOLD

    if value is None:
        return ""
    delta = value - datetime.now(UTC)
    if abs(delta) < timedelta(minutes=1):
        delta = timedelta(minutes=1 if delta >= timedelta(0) else -1)
    return format_timedelta(
        delta,
        granularity="minute",
        threshold=RELATIVE_THRESHOLD,
        add_direction=True,
        format="short",
        locale=EN_GB,
    )


def _by_time(value) -> str:
    """hezo.i18n.format_by_time in English, without the app's request."""
    from babel.dates import format_time

    from hezo.i18n import BY_TIME, format_moment

    if value is None:
        return ""
    local = value.astimezone(WARSAW)
    if local.date() == datetime.now(WARSAW).date():
        moment = format_time(local, "HH:mm", locale=LOCALE)
    else:
        moment = format_moment(value, WARSAW, LOCALE)
    return BY_TIME % {"moment": moment}


def floor_path(name: str) -> str:
    return f"/floor/{name}"


class _NoDatabase:
    """Bound in place of the database once the data is loaded: the floor may
    not query, and a template that would (a lazy relation) fails loudly."""

    def __getattr__(self, name):
        raise RuntimeError(f"the floor touched the database ({name})")


def _switcher(urls: dict[str, str]):
    return lambda code: urls[code]


def load_pages(manifest: dict) -> tuple[dict, Flask]:
    """page name -> (template, context), fetched through the real app once."""
    from flask import g, request
    from flask_login import login_user

    from hezo import create_app
    from hezo.cases import queries as case_queries
    from hezo.cases.pages import detail_context
    from hezo.catalogue import get_plan
    from hezo.contracts import queries as contract_queries
    from hezo.contracts.views import REPORTABLE
    from hezo.db import db, utcnow
    from hezo.i18n import switch_language_url
    from hezo.models import User
    from hezo.models.cases import OPEN_STATUSES, STATUSES
    from hezo.paging import Page
    from hezo.sla import breach_state, local_day
    from hezo.staff import queries as staff_queries

    real = create_app()
    users = {
        role: User.get(User.email == manifest[role]["email"])
        for role in ("customer", "engineer")
    }
    users["customer"].company.name  # noqa: B018 - cache the relation now
    pages = {}

    def context_for(name: str) -> dict:
        user = users[PAGES[name][0]]
        login_user(user)
        endpoint = request.endpoint  # the menu marks the current page
        base = {
            "current_user": user,
            "switch_language_url": _switcher({"pl": switch_language_url("pl")}),
            "here": lambda: endpoint,
        }
        if name.startswith("contracts"):
            q = manifest["search"] if name == "contracts_search" else ""
            result = contract_queries.contract_page(user.company_id, q, 1)
            return base | {
                "template": "contracts/list.html",
                "result": result,
                "q": q,
                "plan": get_plan,
                "today": local_day(utcnow()),
                "reportable": REPORTABLE,
            }
        if name == "cases":
            cases, total = case_queries.case_list(user, "", "", 1)
            return base | {
                "template": "cases/list.html",
                "result": Page.of(cases, 1, total, case_queries.PAGE_SIZE),
                "status": "",
                "q": "",
                "statuses": STATUSES,
                "customer": None,
            }
        if name == "case_50":
            case = case_queries.get_case_or_404(manifest["case_50"], user)
            context = detail_context(case)
            for form in context.values():
                if isinstance(form, Form):  # every form of the page
                    for field in form:
                        # lazy_gettext labels need Flask-Babel: resolve them now
                        field.label.text = str(field.label.text)
            return base | context | {"template": "cases/detail.html"}
        if name == "queue":
            now = datetime.now(UTC)
            filters = dict.fromkeys(staff_queries.FILTER_NAMES, "")
            result = staff_queries.queue_page(filters, user.id, 1, now)
            return base | {
                "template": "staff/queue.html",
                "result": Page.of(
                    result.cases, 1, result.total, staff_queries.PAGE_SIZE
                ),
                "filters": filters,
                "counts": result.counts,
                "now": now,
                "breach": breach_state,
                "engineers": result.engineers,
                "statuses": OPEN_STATUSES,
            }
        raise KeyError(name)

    for name in PAGES:
        path = real_path(name, manifest)
        with real.test_request_context(path, base_url="http://127.0.0.1"):
            g.lang = "en"
            context = context_for(name)
            pages[name] = (context.pop("template"), context)
    db.close()
    db.initialize(_NoDatabase())
    return pages, real


def create_app() -> Flask:
    manifest = json.loads(Path(os.environ["BENCH_MANIFEST"]).read_text())
    pages, real = load_pages(manifest)
    from hezo.cases.workflow import allowed
    from hezo.i18n import DEADLINE, format_day, format_moment
    from hezo.privacy.services import FORMER_USER
    from hezo.vocabulary import STATUS_NOTES, term, tone
    from hezo.web import TEMPLATE_SETTINGS

    # The app's package root: its templates/ and static/ (hezo/ in the checkout).
    app = Flask(
        __name__,
        root_path=str(REPO_ROOT / "hezo"),
        instance_path=str(REPO_ROOT / "instance"),
    )
    env = app.jinja_env
    env.add_extension("jinja2.ext.i18n")
    env.install_null_translations(newstyle=True)
    env.policies["ext.i18n.trimmed"] = True
    parts = {}

    def once_per_language(*key, caller):
        # As the app's (hezo/web.py): the layout's fixed parts rendered once.
        if key not in parts:
            parts[key] = Markup(caller())
        return parts[key]

    env.globals.update(
        once_per_language=once_per_language,
        csrf_token=lambda: CSRF_TOKEN,
        current_language=lambda: "en",
        other_languages=lambda: ["pl"],
        transitions=allowed,
        # A random key per form rendering, as the app's (no database).
        new_submission_key=real.jinja_env.globals["new_submission_key"],
        # The vocabulary's words untranslated: English, the source language.
        label=lambda kind, value: term(kind, value).label,
        status_note=lambda note: STATUS_NOTES.get(note, note),
        # An erased person's messages are signed "former user" (hezo/privacy).
        author_label=lambda name: "former user" if name == FORMER_USER else name,
        tone=tone,
    )
    # The app's formats (hezo/i18n.py), in English, the source language.
    env.filters["datetime"] = lambda value: (
        "" if value is None else format_moment(value, WARSAW, LOCALE)
    )
    env.filters["deadline"] = lambda value: (
        ""
        if value is None
        else DEADLINE % {"moment": format_moment(value, WARSAW, LOCALE)}
    )
    env.filters["date"] = lambda value: (
        "" if value is None else format_day(value, LOCALE)
    )
    env.filters["tel"] = real.jinja_env.filters["tel"]
    env.filters["relative"] = _relative
    env.filters["by_time"] = _by_time
    site = {k: real.config[k] for k in TEMPLATE_SETTINGS}

    # The real app's URL rules, so url_for() builds the same links the same way.
    class LangConverter(BaseConverter):
        regex = "|".join(real.config["LANGUAGES"])

    app.url_map.converters["lang"] = LangConverter

    def not_served(**_kwargs):
        abort(404)

    for rule in real.url_map.iter_rules():
        if rule.endpoint != "static":
            app.add_url_rule(
                rule.rule,
                endpoint=rule.endpoint,
                view_func=not_served,
                methods=rule.methods,
            )

    @app.url_defaults
    def _add_lang(endpoint, values):
        if "lang" not in values and app.url_map.is_endpoint_expecting(endpoint, "lang"):
            values["lang"] = "en"

    @app.get("/floor/<name>")
    def page(name):
        if name not in pages:
            abort(404)
        template, context = pages[name]
        return render_template(template, site=site, **context)

    @app.get("/floor/")
    def ready():
        return "ok"

    # Render every page once now: a template that needs the database fails here.
    with app.test_request_context():
        for name, (template, context) in pages.items():
            render_template(template, site=site, **context)
            del name
    gc.freeze()  # as the app's entry point (app.py) does
    return app
