"""``hezo outbox-worker`` (deliver queued e-mail), ``hezo run-reminders``
(queue due reminders, from cron) and ``hezo mail-intake`` (the help mailbox)."""

import click
from flask import Flask, current_app


def init_app(app: Flask) -> None:
    @app.cli.command("outbox-worker")
    @click.option("--once", is_flag=True, help="Run one delivery pass and exit.")
    @click.option(
        "--interval",
        type=click.FloatRange(min=0.1),
        default=5.0,
        show_default=True,
        help="Seconds between delivery passes.",
    )
    def outbox_worker(once, interval):
        """Send queued e-mail, retrying failures, until stopped."""
        from ..mail.worker import run_worker

        run_worker(current_app._get_current_object(), once=once, interval=interval)

    @app.cli.command("mail-intake")
    @click.option("--once", is_flag=True, help="Take the mail there is now and exit.")
    @click.option(
        "--interval",
        type=click.FloatRange(min=1),
        default=None,
        help="Seconds between passes (MAIL_INTAKE_INTERVAL, 60); in IDLE, "
        "the longest wait before the folders are looked at again.",
    )
    @click.option(
        "--poll",
        is_flag=True,
        help="Poll every --interval seconds instead of waiting in IMAP IDLE.",
    )
    def mail_intake(once, interval, poll):
        """Turn mail to the help mailbox into case messages and triage items."""
        from ..mail.intake import run_worker

        app_ = current_app._get_current_object()
        interval = interval or float(app_.config.get("MAIL_INTAKE_INTERVAL") or 60)
        run_worker(app_, once=once, interval=interval, idle=False if poll else None)

    @app.cli.command("run-reminders")
    def run_reminders_command():
        """Queue due return and response reminders, drop expired form keys and
        e-mail drafts, fold the queue's status counts (safe to run often)."""
        from ..db import utcnow
        from ..mail.drafts import expire_drafts
        from ..mail.reminders import run_reminders
        from ..staff.status_counts import fold
        from ..submissions import purge_expired

        report = run_reminders(utcnow())
        purge_expired(utcnow())  # one-time form keys older than a day
        expired = expire_drafts(utcnow())  # e-mail drafts nobody confirmed
        fold()  # the queue's counts per status: one row each again
        click.echo(
            f"Reminders queued: return soon {report.return_soon}, return "
            f"overdue {report.return_overdue}, response about to breach "
            f"{report.response_breach}. E-mail drafts expired: {expired}."
        )
