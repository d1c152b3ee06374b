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

- the same Jinja templates and macros, autoescaped, with ``jinja2.ext.i18n``:
  null translations for English (the source language, so the text is the
  same), the app's Polish catalogue (``hezo/translations/pl``) for Polish;
  the same ``url_for`` rules (copied from the real URL map, ``lang`` filled in
  by a URL default as in the app);
- dates formatted by Babel in Europe/Warsaw with the page's locale, as the
  app's filters do; the vocabulary's words translated with the same catalogue;
- each language its own bare Flask app (``/floor/en/<page>``,
  ``/floor/pl/<page>``), picked by the path's second segment;
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
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.support import NullTranslations, Translations
from flask import Flask, abort, render_template
from markupsafe import Markup
from werkzeug.routing import BaseConverter
from wtforms import Form
from wtforms.fields.choices import SelectChoice

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WARSAW = ZoneInfo("Europe/Warsaw")
LANGUAGES = ("en", "pl")
TRANSLATIONS = REPO_ROOT / "hezo" / "translations"
CSRF_TOKEN = "IjBmMzI4ZWE1YjM3ZTQ0ODI5ZjE3Y2Q3YjVjZTg0ODE3MjhiYjBkZTci.floor"

#: The measured pages: who sees them and the real app's path (``str.format``
#: with the workspace manifest and ``lang``). The floor serves the same page
#: at /floor/<lang>/<name>.
PAGES = {
    "contracts": ("customer", "/{lang}/contracts/"),
    "contracts_search": ("customer", "/{lang}/contracts/?q={search}"),
    "cases": ("customer", "/{lang}/cases/"),
    "case_50": ("customer", "/{lang}/cases/{case_50}"),
    "queue": ("engineer", "/{lang}/staff/"),
}


def real_path(name: str, manifest: dict, lang: str = "en") -> str:
    return PAGES[name][1].format(**manifest, lang=lang)


def floor_path(name: str, lang: str = "en") -> str:
    return f"/floor/{lang}/{name}"


def _relative(locale):
    """hezo.i18n.format_relative in ``locale``, without the app's request."""
    from babel.dates import format_timedelta

    from hezo.i18n import EN_GB, RELATIVE_THRESHOLD

    locale = EN_GB if locale.language == "en" else locale

    def relative(value) -> str:
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
            locale=locale,
        )

    return relative


def _by_time(locale, by_time: str):
    """hezo.i18n.format_by_time in ``locale`` (``by_time`` its BY_TIME)."""
    from babel.dates import format_time

    from hezo.i18n import format_moment

    def by(value) -> str:
        if value is None:
            return ""
        local = value.astimezone(WARSAW)
        if local.date() == datetime.now(WARSAW).date():
            moment = format_time(local, "HH:mm", locale=locale)
        else:
            moment = format_moment(value, WARSAW, locale)
        return by_time % {"moment": moment}

    return by


def _resolve_lazy(form: Form) -> None:
    """Put a form's lazy_gettext words (labels, choices) into the language of
    the request being built: the floor has no Flask-Babel to resolve them."""
    for field in form:
        field.label.text = str(field.label.text)
        choices = getattr(field, "choices", None)
        if isinstance(choices, list | tuple):
            field.choices = [_resolved(choice) for choice in choices]


def _resolved(choice):
    if isinstance(choice, SelectChoice):
        return replace(choice, label=str(choice.label))
    if isinstance(choice, tuple) and len(choice) >= 2:
        return (choice[0], str(choice[1]), *choice[2:])
    return choice


class _NoDatabase:
    """Bound in place of the database once the data is loaded: the floor may
    not query, and a template that would (a lazy relation) fails loudly."""

    def __getattr__(self, name):
        raise RuntimeError(f"the floor touched the database ({name})")


def _switcher(urls: dict[str, str]):
    return lambda code: urls[code]


def load_pages(manifest: dict) -> tuple[dict, Flask]:
    """language -> page name -> (template, context), fetched through the real
    app once, in a request of that language (so its words are in it)."""
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
    from hezo.mail import triage
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

    def context_for(name: str, lang: str) -> dict:
        user = users[PAGES[name][0]]
        login_user(user)
        endpoint = request.endpoint  # the menu marks the current page
        base = {
            "current_user": user,
            "switch_language_url": _switcher(
                {code: switch_language_url(code) for code in LANGUAGES}
            ),
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
                    _resolve_lazy(form)
            return base | context | {"template": "cases/detail.html"}
        if name == "queue":
            now = datetime.now(UTC)
            filters = dict.fromkeys(staff_queries.FILTER_NAMES, "")
            filters["q"] = ""  # as the queue's view (hezo/staff/views.py)
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
                "mail_waiting": triage.waiting_count(),
            }
        raise KeyError(name)

    for lang in LANGUAGES:
        pages[lang] = {}
        for name in PAGES:
            path = real_path(name, manifest, lang)
            with real.test_request_context(path, base_url="http://127.0.0.1"):
                g.lang = lang  # as the app's URL preprocessor; Flask-Babel follows
                context = context_for(name, lang)
                pages[lang][name] = (context.pop("template"), context)
    db.close()
    db.initialize(_NoDatabase())
    return pages, real


def create_app():
    """The floor's WSGI app: /floor/<lang>/… goes to that language's app."""
    manifest = json.loads(Path(os.environ["BENCH_MANIFEST"]).read_text())
    pages, real = load_pages(manifest)
    apps = {lang: language_app(lang, pages[lang], real) for lang in LANGUAGES}
    english = apps["en"]

    def dispatch(environ, start_response):
        lang = environ.get("PATH_INFO", "").split("/", 3)[2:3]
        app = apps.get(lang[0], english) if lang else english
        return app(environ, start_response)

    gc.freeze()  # as the app's entry point (app.py) does
    return dispatch


def language_app(lang: str, pages: dict, real: Flask) -> Flask:
    """A bare Flask app rendering ``pages`` in ``lang`` at /floor/<lang>/<name>."""
    from hezo.cases.workflow import allowed
    from hezo.i18n import BY_TIME, DEADLINE, format_day, format_moment
    from hezo.privacy.services import FORMER_USER
    from hezo.vocabulary import STATUS_NOTES, term, tone
    from hezo.web import TEMPLATE_SETTINGS

    locale = Locale.parse(lang)
    # The app's package root: its templates/ and static/ (hezo/ in the checkout).
    app = Flask(
        __name__,
        root_path=str(REPO_ROOT / "hezo"),
        instance_path=str(REPO_ROOT / "instance"),
    )
    env = app.jinja_env
    env.add_extension("jinja2.ext.i18n")
    if lang == "en":  # the source language: the text is the msgid
        env.install_null_translations(newstyle=True)
        words = NullTranslations()
    else:  # the app's catalogue, as Flask-Babel loads it (one directory)
        words = Translations.load(str(TRANSLATIONS), [locale], "messages")
        if not isinstance(words, Translations):
            raise RuntimeError(f"no {lang} catalogue in {TRANSLATIONS}")
        env.install_gettext_translations(words, newstyle=True)
    env.policies["ext.i18n.trimmed"] = True
    # Words the app's Python code translates while a template renders (the
    # catalogue's "not included", for one): Flask-Babel in the page's language,
    # its Jinja callables left out (the templates keep the catalogue above).
    from flask_babel import Babel

    Babel(
        app,
        locale_selector=lambda: lang,
        default_translation_directories=str(TRANSLATIONS),
        configure_jinja=False,
    )
    tr = words.ugettext
    parts = {}

    def once_per_language(*key, caller):
        # As the app's (hezo/web.py): the layout's fixed parts rendered once.
        if key not in parts:
            parts[key] = Markup(caller())
        return parts[key]

    others = [code for code in real.config["LANGUAGES"] if code != lang]
    former_user = tr("former user")
    env.globals.update(
        once_per_language=once_per_language,
        csrf_token=lambda: CSRF_TOKEN,
        current_language=lambda: lang,
        other_languages=lambda: others,
        transitions=allowed,
        # A random key per form rendering, as the app's (no database).
        new_submission_key=real.jinja_env.globals["new_submission_key"],
        # The vocabulary's words in the page's language (hezo/vocabulary.py).
        label=lambda kind, value: tr(term(kind, value).label),
        status_note=lambda note: (
            tr(STATUS_NOTES[note]) if note in STATUS_NOTES else note
        ),
        # An erased person's messages are signed "former user" (hezo/privacy).
        author_label=lambda name: former_user if name == FORMER_USER else name,
        tone=tone,
    )
    # The app's formats (hezo/i18n.py) in the page's language.
    deadline = tr(DEADLINE)
    env.filters["datetime"] = lambda value: (
        "" if value is None else format_moment(value, WARSAW, locale)
    )
    env.filters["deadline"] = lambda value: (
        ""
        if value is None
        else deadline % {"moment": format_moment(value, WARSAW, locale)}
    )
    env.filters["date"] = lambda value: (
        "" if value is None else format_day(value, locale)
    )
    env.filters["tel"] = real.jinja_env.filters["tel"]
    env.filters["relative"] = _relative(locale)
    env.filters["by_time"] = _by_time(locale, tr(BY_TIME))
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
            values["lang"] = lang

    @app.get(f"/floor/{lang}/<name>")
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
        for template, context in pages.values():
            render_template(template, site=site, **context)
    return app
