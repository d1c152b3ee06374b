"""``hezo privacy-exports`` (make the copies of people's data they asked for)
and ``hezo run-retention`` (apply the retention periods, from cron daily)."""

import time

import click
from flask import Flask


def init_app(app: Flask) -> None:
    @app.cli.command("privacy-exports")
    @click.option("--once", is_flag=True, help="Make the copies waiting now and exit.")
    @click.option(
        "--interval",
        type=click.FloatRange(min=1),
        default=30.0,
        show_default=True,
        help="Seconds between passes.",
    )
    def privacy_exports(once, interval):
        """Make the copies of personal data people asked for (GDPR Arts. 15, 20)."""
        from ..db import utcnow
        from ..privacy.services import process_pending_exports

        while True:
            made = process_pending_exports(utcnow())
            if made or once:
                click.echo(f"Copies made: {made}.")
            if once:
                return
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return

    @app.cli.command("run-retention")
    def run_retention_command():
        """Delete what is past its retention period, warn and disable inactive
        accounts (safe to run daily; README "Privacy")."""
        from ..db import utcnow
        from ..privacy.services import run_retention

        report = run_retention(utcnow())
        click.echo("Retention: " + "; ".join(report.lines()) + ".")
