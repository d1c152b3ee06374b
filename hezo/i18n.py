"""Languages: ``/pl/...`` and ``/en/...`` routes, locale choice, formatting."""

from datetime import datetime

from flask import Flask, g, request, session, url_for
from flask_babel import format_date, format_datetime, get_translations
from werkzeug.routing import BaseConverter

from .extensions import babel


def init_app(app: Flask) -> None:
    languages = tuple(app.config["LANGUAGES"])

    class LangConverter(BaseConverter):
        regex = "|".join(languages)

    app.url_map.converters["lang"] = LangConverter
    babel.init_app(app, locale_selector=select_locale)
    # Templates call gettext hundreds of times a page; Flask-Babel finds the
    # catalogue through several context lookups per call (~35 us each, a third
    # of a page's time). Look it up once per request and language instead.
    app.jinja_env.install_gettext_callables(
        lambda s: _translations().ugettext(s),
        lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
    )
    # Templates are extracted with trimmed=true; lookups must trim the same way.
    app.jinja_env.policies["ext.i18n.trimmed"] = True

    @app.url_value_preprocessor
    def _pull_lang(endpoint, values):
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
    )
    app.jinja_env.filters["datetime"] = format_local_datetime
    app.jinja_env.filters["date"] = format_local_date


def _translations():
    """The catalogue of the current language, cached on ``g`` per language.

    Keyed by ``g.lang`` because mail rendering switches it (with
    ``force_locale``) inside a request of another language.
    """
    lang = g.get("lang")
    if lang is None:
        return get_translations()
    cache = g.setdefault("_translations_by_lang", {})
    translations = cache.get(lang)
    if translations is None:
        translations = cache[lang] = get_translations()
    return translations


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
        return preferred_language()
    return languages()[0]


def select_locale() -> str:
    return current_language()


def switch_language_url(lang: str) -> str:
    """The current page in another language (the landing page if it has no GET URL)."""
    endpoint = request.endpoint
    if (
        endpoint
        and request.method == "GET"
        and request.url_rule is not None
        and "lang" in request.url_rule.arguments
    ):
        args = dict(request.view_args or {})
        args.update(request.args.to_dict())
        args["lang"] = lang
        return url_for(endpoint, **args)
    return url_for("public.home", lang=lang)


def format_local_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """A UTC datetime shown in Europe/Warsaw, in the current language."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def format_local_date(value, fmt: str = "medium") -> str:
    return "" if value is None else format_date(value, fmt)
