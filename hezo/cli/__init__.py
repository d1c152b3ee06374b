"""The ``hezo`` command: thin wrappers around services, reused by tests."""

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo

from . import accounts, demo, imports, mail, privacy, schema, storage, translate

#: One module per area; each adds its commands to ``app.cli``.
AREAS = (schema, imports, accounts, mail, storage, demo, translate, privacy)


def main() -> None:
    _HezoGroup(
        create_app=_create_app,
        add_default_commands=True,
        help="myHEZO portal administration.",
    ).main(prog_name="hezo")


def _create_app() -> Flask:
    from .. import ConfigurationError, create_app

    try:
        return create_app()
    except ConfigurationError as exc:
        # A missing or wrong setting: its one-line message, not a traceback.
        raise click.ClickException(str(exc)) from None


class _HezoGroup(FlaskGroup):
    def list_commands(self, ctx):
        # ``hezo --help`` without a usable configuration: say why the app's own
        # commands are missing in one line (Flask would print a traceback).
        try:
            ctx.ensure_object(ScriptInfo).load_app()
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            return sorted(click.Group.list_commands(self, ctx))
        return super().list_commands(ctx)


def init_app(app: Flask) -> None:
    """Add every area's commands to the app's ``hezo`` command group."""
    for area in AREAS:
        area.init_app(app)
