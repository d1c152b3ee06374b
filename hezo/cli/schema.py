"""``hezo init-db``: the schema from ``hezo/migrations``."""

import click
from flask import Flask

from ..migrations import migrate_database


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db():
        """Create or upgrade the database schema."""
        applied = migrate_database()
        click.echo(f"Schema up to date ({len(applied)} migration(s) applied).")
