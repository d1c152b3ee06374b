"""myHEZO portal: the application factory."""

import logging
from collections.abc import Mapping
from inspect import CO_COROUTINE
from pathlib import Path
from types import FunctionType

from flask import Flask

from .config import CHECKOUT_DIR, PACKAGE_DIR, Defaults, default_instance_path


class ConfigurationError(RuntimeError):
    """The app was asked to start with a configuration it must refuse."""


class HezoFlask(Flask):
    """Flask, asking Python's ``inspect`` less often: Flask checks every hook
    and view for a coroutine on every request (``ensure_sync``), about 15
    calls to ``inspect.iscoroutinefunction`` a page. A plain function whose
    code is not a coroutine's is returned at once; anything else (methods,
    partials, async views) goes the usual way."""

    def ensure_sync(self, func):
        if type(func) is FunctionType and not func.__code__.co_flags & CO_COROUTINE:
            return func
        return super().ensure_sync(func)


def create_app(
    overrides: Mapping | None = None, instance_path: str | Path | None = None
) -> Flask:
    """Build the app: defaults, then ``HEZO_*`` environment, then ``overrides``.

    Templates, static files and translations are the package's own (its root
    path); the writable instance folder (default database, uploads, mail files)
    is ``instance_path``, else ``HEZO_INSTANCE_PATH``, else the checkout's or the
    current directory's ``instance/`` (``config.default_instance_path``)."""
    instance = Path(instance_path or default_instance_path()).resolve()
    app = HezoFlask(__name__, instance_path=str(instance))
    _configure_settings(app, overrides)
    _configure_database(app)
    _configure_i18n(app)
    _configure_extensions(app)
    _configure_inputs(app)
    _configure_blueprints(app)
    _configure_web(app)
    _configure_cli(app)
    _check_assets(app)
    return app


def _configure_settings(app: Flask, overrides: Mapping | None) -> None:
    app.config.from_object(Defaults)
    app.config.from_prefixed_env("HEZO")
    if overrides:
        app.config.update(overrides)
    production = not (app.config["DEBUG"] or app.config["TESTING"])
    if production and not app.config.get("SECRET_KEY"):
        raise ConfigurationError(
            "HEZO_SECRET_KEY is not set: refusing to start in production mode "
            "(set HEZO_DEBUG=true only on a development machine)."
        )
    if production and not app.config.get("TOTP_ENCRYPTION_KEY"):
        raise ConfigurationError(
            "HEZO_TOTP_ENCRYPTION_KEY is not set: refusing to start in production "
            "mode (it must differ from HEZO_SECRET_KEY and stay out of the database)."
        )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = "development-only-not-secret"
    if not app.config.get("TOTP_ENCRYPTION_KEY"):
        app.config["TOTP_ENCRYPTION_KEY"] = "dev:" + app.config["SECRET_KEY"]
    _configure_instance(app)
    if production:
        logging.basicConfig(level=logging.INFO)


def _configure_instance(app: Flask) -> None:
    """The writable files default to the instance folder, which is never inside
    the package, nor inside site-packages when installed (read-only there, and
    replaced on upgrade)."""
    instance = Path(app.instance_path)
    forbidden = PACKAGE_DIR if CHECKOUT_DIR else PACKAGE_DIR.parent
    if instance == forbidden or forbidden in instance.parents:
        raise ConfigurationError(
            f"The instance folder {instance} is inside {forbidden}: set "
            "HEZO_INSTANCE_PATH to a writable directory outside it."
        )
    for key, default in (
        ("DATABASE_URL", f"sqlite:///{instance / 'hezo.db'}"),
        ("UPLOAD_FOLDER", str(instance / "uploads")),
        ("OUTBOX_FILE_FOLDER", str(instance / "mail")),
    ):
        app.config[key] = app.config.get(key) or default


def _check_assets(app: Flask) -> None:
    """Fail early and clearly when a system package the portal needs is missing."""
    font = Path(app.config["PDF_FONT_PATH"])
    if not font.is_file():
        raise ConfigurationError(
            f"PDF font not found at {font}: install the Debian package "
            "fonts-dejavu-core (scripts/setup does) or set HEZO_PDF_FONT_PATH."
        )
    if not (Path(app.static_folder) / "vendor" / "htmx.min.js").is_file():
        app.logger.error("hezo/static/vendor/htmx.min.js is missing: run scripts/setup")


def _configure_database(app: Flask) -> None:
    from . import catalogue_db, db

    db.init_app(app)
    catalogue_db.init_app(app)


def _configure_i18n(app: Flask) -> None:
    from . import i18n, vocabulary

    i18n.init_app(app)
    vocabulary.init_app(app)


def _configure_extensions(app: Flask) -> None:
    from . import html_params, security
    from .extensions import check_limits_of_counted_requests_only, csrf, limiter

    html_params.install()

    csrf.init_app(app)
    limiter.init_app(app)
    check_limits_of_counted_requests_only(app)
    security.init_app(app)


def _configure_inputs(app: Flask) -> None:
    from . import inputs

    inputs.init_app(app)


def _configure_blueprints(app: Flask) -> None:
    from . import (
        accounts,
        admin,
        cases,
        contracts,
        partners,
        privacy,
        public,
        reports,
        sharing,
        staff,
    )
    from .i18n import register_localized

    app.register_blueprint(public.root_bp)
    for blueprint in (
        public.bp,
        accounts.bp,
        contracts.bp,
        cases.bp,
        staff.bp,
        partners.bp,
        sharing.bp,
        privacy.bp,
        admin.bp,
        reports.bp,
    ):
        register_localized(app, blueprint)
    app.register_blueprint(accounts.vzam.callback_bp)  # /vzam/callback, no language
    accounts.oidc.init_app(app)


def _configure_web(app: Flask) -> None:
    from . import static_files, submissions, web

    web.init_app(app)
    submissions.init_app(app)
    static_files.init_app(app)


def _configure_cli(app: Flask) -> None:
    from . import cli

    cli.init_app(app)
