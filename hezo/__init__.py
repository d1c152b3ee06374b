"""myHEZO portal: the application factory."""

import logging
from collections.abc import Mapping

from flask import Flask

from .config import REPO_ROOT, Defaults


class ConfigurationError(RuntimeError):
    """The app was asked to start with a configuration it must refuse."""


def create_app(overrides: Mapping | None = None) -> Flask:
    """Build the app: defaults, then ``HEZO_*`` environment, then ``overrides``."""
    app = Flask(
        __name__, root_path=str(REPO_ROOT), instance_path=str(REPO_ROOT / "instance")
    )
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
    if production:
        logging.basicConfig(level=logging.INFO)


def _check_assets(app: Flask) -> None:
    """Fail early and clearly when a system package the portal needs is missing."""
    from pathlib import Path

    font = Path(app.config["PDF_FONT_PATH"])
    if not font.is_file():
        raise ConfigurationError(
            f"PDF font not found at {font}: install the Debian package "
            "fonts-dejavu-core (scripts/setup does) or set HEZO_PDF_FONT_PATH."
        )
    if not (REPO_ROOT / "static" / "vendor" / "htmx.min.js").is_file():
        app.logger.error("static/vendor/htmx.min.js is missing: run scripts/setup")


def _configure_database(app: Flask) -> None:
    from . import db

    db.init_app(app)


def _configure_i18n(app: Flask) -> None:
    from . import i18n

    i18n.init_app(app)


def _configure_extensions(app: Flask) -> None:
    from . import security
    from .extensions import csrf, limiter

    csrf.init_app(app)
    limiter.init_app(app)
    security.init_app(app)


def _configure_inputs(app: Flask) -> None:
    from . import inputs

    inputs.init_app(app)


def _configure_blueprints(app: Flask) -> None:
    from . import accounts, cases, contracts, partners, public, staff
    from .i18n import register_localized

    app.register_blueprint(public.root_bp)
    for blueprint in (
        public.bp,
        accounts.bp,
        contracts.bp,
        cases.bp,
        staff.bp,
        partners.bp,
    ):
        register_localized(app, blueprint)


def _configure_web(app: Flask) -> None:
    from . import submissions, web

    web.init_app(app)
    submissions.init_app(app)


def _configure_cli(app: Flask) -> None:
    from . import cli

    cli.init_app(app)
