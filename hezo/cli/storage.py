"""``hezo backup``, ``hezo restore`` and ``hezo check-files``: the database
and the attachment files together."""

import sys
from pathlib import Path

import click
from flask import Flask

from ..migrations import migrate_database


def init_app(app: Flask) -> None:
    @app.cli.command("check-files")
    @click.option(
        "--fix", is_flag=True, help="Remove temporary files older than a day."
    )
    def check_files(fix):
        """List attachment rows whose file is missing; find stale temporaries.

        Exit status 1 when a row has no file (its content is lost: ask for it
        again; a legacy dialogue PDF is rendered again by import-legacy).
        """
        from ..attachments import (
            discard_stale_staged,
            rows_without_files,
            stale_temporaries,
        )

        missing = 0
        for attachment in rows_without_files():
            missing += 1
            click.echo(
                f"missing file: case {attachment.case.number}, attachment "
                f"{attachment.id} {attachment.filename!r} ({attachment.sha256})"
            )
        stale = discard_stale_staged() if fix else stale_temporaries()
        for path in stale:
            click.echo(f"{'removed' if fix else 'stale'} temporary file: {path.name}")
        click.echo(
            f"Rows without files: {missing}. Temporary files older than a day: "
            f"{len(stale)}{' (removed)' if fix and stale else ''}."
        )
        if missing:
            sys.exit(1)

    @app.cli.command("backup")
    @click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
    def backup_command(directory):
        """Back up the database and the upload folder into a new DIRECTORY."""
        from ..backup import BackupError, backup

        try:
            report = backup(directory)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(format_backup(report, "Backed up"))
        for sha in report.missing_files:
            click.echo(f"warning: file {sha} was already missing", err=True)

    @app.cli.command("restore")
    @click.argument(
        "directory", type=click.Path(exists=True, file_okay=False, path_type=Path)
    )
    def restore_command(directory):
        """Restore a backup DIRECTORY into an empty database and upload folder."""
        from ..backup import BackupError, restore

        migrate_database()
        try:
            report = restore(directory)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(format_backup(report, "Restored"))


def format_backup(report, done: str) -> str:
    rows = sum(report.rows.values())
    return f"{done} {rows} rows in {len(report.rows)} tables and {report.files} files."
