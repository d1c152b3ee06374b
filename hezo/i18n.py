"""Languages: ``/pl/...`` and ``/en/...`` routes, locale choice, formatting."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from babel import core as babel_core
from babel import dates as babel_dates
from babel import support as babel_support
from flask import Flask, g, request, session, url_for
from flask_babel import force_locale, get_locale, get_timezone, get_translations
from jinja2 import pass_eval_context
from markupsafe import Markup
from werkzeug.routing import BaseConverter, BuildError
from wtforms.i18n import messages_path

from .db import utcnow
from .extensions import babel


def init_app(app: Flask) -> None:
    languages = tuple(app.config["LANGUAGES"])

    class LangConverter(BaseConverter):
        regex = "|".join(languages)

    app.url_map.converters["lang"] = LangConverter
    babel.init_app(app, locale_selector=select_locale)
    # Templates call gettext hundreds of times a page; Flask-Babel finds the
    # catalogue through several context lookups per call. Look it up once per
    # request and language instead.
    app.jinja_env.install_gettext_callables(
        lambda s: _language().translations.ugettext(s),
        lambda s, p, n: _language().translations.ungettext(s, p, n),
        newstyle=True,
    )
    # ``_()`` is the most frequent call in the templates (up to ~650 a page):
    # Jinja's alias goes through three context calls to reach the catalogue
    # (~8 us); this does the same work in one.
    app.jinja_env.globals["_"] = template_gettext
    # Templates are extracted with trimmed=true; lookups must trim the same way.
    app.jinja_env.policies["ext.i18n.trimmed"] = True

    @app.url_value_preprocessor
    def _pull_lang(endpoint, values):
        # Flask-WTF reads the .mo of WTForms' own messages ("This field is
        # required.") from disk again on each request that builds a form
        # (0.3-0.9 ms; Polish's plural rule is compiled each time too): give
        # it the catalogues loaded once instead.
        request.wtforms_translations = WTFORMS_TRANSLATIONS
        if values and "lang" in values:
            g.lang = values.pop("lang")

    @app.url_defaults
    def _add_lang(endpoint, values):
        if "lang" in values or not app.url_map.is_endpoint_expecting(endpoint, "lang"):
            return
        values["lang"] = current_language()

    app.jinja_env.globals.update(
        switch_language_url=switch_language_url,
        current_language=current_language,
        other_languages=lambda: [x for x in languages if x != current_language()],
        here=current_endpoint,
    )
    app.jinja_env.filters["datetime"] = format_local_datetime
    app.jinja_env.filters["deadline"] = format_deadline
    app.jinja_env.filters["date"] = format_local_date
    app.jinja_env.filters["relative"] = format_relative
    app.jinja_env.filters["by_time"] = format_by_time


class Language(NamedTuple):
    translations: object
    locale: object
    zone: object


def _language() -> Language:
    """Catalogue, locale and time zone of the current language, cached on ``g``
    per language (outside a request's language, ``g.lang`` unset, not cached).

    Keyed by ``g.lang``, which ``in_language`` switches together with
    Flask-Babel's locale (mail and PDFs in the recipient's language).
    """
    store = g._get_current_object().__dict__  # one context lookup, not several
    lang = store.get("lang")
    cache = store.setdefault("_i18n_by_lang", {})
    language = cache.get(lang)
    if language is None:
        language = Language(
            get_translations(),
            _formatting_locale(str(get_locale())),
            _zone(get_timezone()),
        )
        if lang is not None:
            cache[lang] = language
    return language


class _Locale(babel_core.Locale):
    """A Babel locale whose plural rule remembers its answer for each small
    whole number. Babel evaluates the CLDR rule anew on each call: Polish's
    (one, few, many) takes ~12 us, ten times English's, and each relative time
    ("za 3 godz.") asks it once, fifty times on the queue. Same answers."""

    @property
    def plural_form(self):
        rule = self.__dict__.get("_remembered_plural")
        if rule is None:
            rule = self.__dict__["_remembered_plural"] = _remembering(
                super().plural_form
            )
        return rule


#: Whole numbers up to this are remembered (Babel's relative times round to
#: one: minutes up to 119, hours up to 47, days, months, years).
PLURALS_REMEMBERED = 1000


def _remembering(rule):
    answers = {}

    def plural_form(n):
        # Only ints: 1.0 or Decimal("1.0") may take another form than 1 (v=1).
        if type(n) is not int or not 0 <= n < PLURALS_REMEMBERED:
            return rule(n)
        form = answers.get(n)
        if form is None:
            form = answers[n] = rule(n)
        return form

    return plural_form


@cache
def _formatting_locale(identifier: str) -> _Locale:
    """The locale pages' dates and relative times are formatted with
    (Flask-Babel's, with the plural rule remembered)."""
    locale = babel_core.Locale.parse(identifier)
    return _Locale(
        locale.language,
        locale.territory,
        locale.script,
        locale.variant,
        locale.modifier,
    )


@cache
def _zone(zone) -> ZoneInfo:
    """Flask-Babel's zone (pytz) as a ``ZoneInfo``: the same offsets, and
    converting a page's fifty dates costs a third less."""
    return ZoneInfo(str(zone))


@contextmanager
def in_language(language: str) -> Iterator[None]:
    """Render in ``language`` for the block, also inside a request in another
    one: ``g.lang`` (which ``url_for`` and the template helpers follow) and
    Flask-Babel's locale switch together and are restored afterwards."""
    missing = object()
    previous = g.get("lang", missing)
    g.lang = language
    try:
        with force_locale(language):
            yield
    finally:
        if previous is missing:
            g.pop("lang", None)
        else:
            g.lang = previous


@lru_cache(maxsize=16)
def _wtforms_catalogue(locale: str):
    """WTForms' messages in ``locale``, loaded from its .mo once per process,
    as Flask-WTF loads them (``flask_wtf.i18n``) once per request."""
    return babel_support.Translations.load(
        messages_path(), [babel_core.Locale.parse(locale)], domain="wtforms"
    )


class _WtformsTranslations:
    """What Flask-WTF takes from ``request.wtforms_translations``: the cached
    catalogue of Flask-Babel's current locale, looked up on each message (so
    a form built inside ``in_language`` follows it, where Flask-WTF keeps the
    first message's language for the rest of the request)."""

    def ugettext(self, string: str) -> str:
        return _wtforms_catalogue(str(get_locale())).ugettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalogue(str(get_locale())).ungettext(singular, plural, n)


WTFORMS_TRANSLATIONS = _WtformsTranslations()


def translate(message: str) -> str:
    """``message`` in the language being rendered (request, mail or PDF)."""
    return _language().translations.ugettext(message)


@pass_eval_context
def template_gettext(eval_ctx, string: str, **variables) -> str:
    """``_()`` in templates, as Jinja's new-style gettext: the translation is
    autoescaped where the template is, and always a ``%`` format string (so
    ``%%`` means one percent sign, with or without variables)."""
    text = _language().translations.ugettext(string)
    if eval_ctx.autoescape:
        text = Markup(text)
    # Without a "%" formatting changes nothing (a page's 20-odd labels: ~1 us each).
    return text % variables if "%" in text else text


def register_localized(app: Flask, bp) -> None:
    """Mount a blueprint under ``/<lang>`` plus its own prefix."""
    app.register_blueprint(bp, url_prefix="/<lang:lang>" + (bp.url_prefix or ""))


def languages() -> tuple[str, ...]:
    from flask import current_app

    return tuple(current_app.config["LANGUAGES"])


def preferred_language() -> str:
    """For a URL without a language: host, session, Accept-Language, then pl."""
    from flask import current_app

    host = request.host.split(":")[0].lower().removeprefix("www.")
    by_host = current_app.config["HOST_LANGUAGES"].get(host)
    if by_host:
        return by_host
    if session.get("lang") in languages():
        return session["lang"]
    return request.accept_languages.best_match(languages()) or languages()[0]


def current_language() -> str:
    lang = g.get("lang")
    if lang:
        return lang
    if request:
        # A URL under /en/ that matched no route (404, or refused before
        # routing) still answers in the language its path names.
        prefix = request.path.split("/")[1:2]
        if prefix and prefix[0] in languages():
            return prefix[0]
        return preferred_language()
    return languages()[0]


def current_endpoint() -> str:
    """The endpoint of the page being shown ("" outside a routed request):
    the menu marks its link as the current page."""
    return (request.endpoint or "") if request else ""


def select_locale() -> str:
    return current_language()


def switch_language_url(lang: str) -> str:
    """The current page in another language (the landing page if it has no GET URL).

    Query arguments are the client's: those ``url_for`` reads as its own
    options (``_method``, ``_external``, ``_anchor`` …) are left out, and a
    link that still cannot be built falls back to the landing page.
    """
    endpoint = request.endpoint
    if (
        endpoint
        and request.method == "GET"
        and request.url_rule is not None
        and "lang" in request.url_rule.arguments
    ):
        args = {k: v for k, v in request.args.items() if not k.startswith("_")}
        args.update(request.view_args or {})
        args["lang"] = lang
        try:
            return url_for(endpoint, **args)
        except (BuildError, ValueError, TypeError):
            pass
    return url_for("public.home", lang=lang)


#: One date and time format per language, the same on pages, in e-mails and
#: PDFs: English in the European (en-GB) way, "1 Dec 2026, 14:30"; Polish
#: "1.12.2026, 14:30". Always Warsaw time, 24-hour clock.
DATETIME_PATTERNS = {"en": "d MMM y, HH:mm", "pl": "d.MM.y, HH:mm"}
DATE_PATTERNS = {"en": "d MMM y", "pl": "d.MM.y"}


def N_(message: str) -> str:  # noqa: N802 - gettext's marker name, known to Babel
    """Mark ``message`` for extraction; it is translated when shown."""
    return message


DEADLINE = N_("%(moment)s Warsaw time")
BY_TIME = N_("by %(moment)s Warsaw time")

#: Up to this many of a unit before the next larger one is used: "in 95 min",
#: then "in 3 hr", then "in 2 days" (hezo/static/js/app.js counts the same way).
RELATIVE_THRESHOLD = 2


# Babel directly with the request's locale and the zone: Flask-Babel's wrappers
# look both up again (and the configured formats) on each of a page's dates.
def format_moment(value: datetime, zone, locale) -> str:
    """``value`` in ``zone`` in the one format of ``locale``'s language."""
    pattern = DATETIME_PATTERNS.get(locale.language, DATETIME_PATTERNS["en"])
    return babel_dates.format_datetime(value, pattern, tzinfo=zone, locale=locale)


def format_day(value: date, locale) -> str:
    pattern = DATE_PATTERNS.get(locale.language, DATE_PATTERNS["en"])
    return babel_dates.format_date(value, pattern, locale=locale)


def format_local_datetime(value: datetime | None) -> str:
    """A UTC datetime shown in Europe/Warsaw, in the current language."""
    if value is None:
        return ""
    language = _language()
    return format_moment(value, language.zone, language.locale)


def format_deadline(value: datetime | None) -> str:
    """A deadline: the moment with its time zone named ("… Warsaw time")."""
    if value is None:
        return ""
    return translate(DEADLINE) % {"moment": format_local_datetime(value)}


def format_local_date(value: date | datetime | None) -> str:
    """A date (or the Warsaw calendar day of a UTC datetime), localised."""
    if value is None:
        return ""
    language = _language()
    if isinstance(value, datetime):
        value = value.astimezone(language.zone)
    return format_day(value, language.locale)


def format_relative(value: datetime | None, now: datetime | None = None) -> str:
    """How far ``value`` is from now, in words: "in 40 min", "2 hr ago"
    ("za 40 min", "2 godz. temu"). Pages put it in ``<time data-relative>``,
    which app.js keeps current without a reload."""
    if value is None:
        return ""
    delta = value - (now or utcnow())
    if abs(delta) < timedelta(minutes=1):
        delta = timedelta(minutes=1 if delta >= timedelta(0) else -1)
    return babel_dates.format_timedelta(
        delta,
        granularity="minute",
        threshold=RELATIVE_THRESHOLD,
        add_direction=True,
        format="short",
        locale=_european(_language().locale),
    )


#: English is written the European (en-GB) way: "in 40 min", not "in 40 min.".
EN_GB = _formatting_locale("en_GB")


def _european(locale):
    return EN_GB if locale.language == "en" else locale


def format_by_time(value: datetime | None, now: datetime | None = None) -> str:
    """A deadline as "by 14:30 Warsaw time" when it falls on today's Warsaw
    date, else with its date ("by 8 Dec 2026, 09:00 Warsaw time")."""
    if value is None:
        return ""
    language = _language()
    local = value.astimezone(language.zone)
    if local.date() == (now or utcnow()).astimezone(language.zone).date():
        moment = babel_dates.format_time(local, "HH:mm", locale=language.locale)
    else:
        moment = format_moment(value, language.zone, language.locale)
    return translate(BY_TIME) % {"moment": moment}
