"""``hezo import-contracts`` (the ERP contract register) and ``hezo
import-legacy`` (the previous portal's export): progress on stderr, the report
on stdout, exit status 1 when a row or record was rejected. ``hezo
import-worker`` runs the imports queued in the administrators' console."""

import sys
from pathlib import Path

import click
from flask import Flask, current_app

from ..db import utcnow


def init_app(app: Flask) -> None:
    @app.cli.command("import-contracts")
    @click.argument(
        "files",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    def import_contracts(files):
        """Sync contract register CSV files (ERP export) into the database."""
        from ..imports.contracts import (
            ContractRegisterFormatError,
            ImportReport,
            import_contract_register,
        )

        total = ImportReport()
        for path in files:
            size = path.stat().st_size
            with click.progressbar(
                length=size, label=path.name, file=sys.stderr, show_pos=False
            ) as bar:
                done = [0]

                def progress(position, bar=bar, done=done):
                    bar.update(position - done[0])
                    done[0] = position

                try:
                    report = import_contract_register(path, progress)
                except ContractRegisterFormatError as exc:
                    raise click.ClickException(f"{path}: {exc}") from exc
                bar.update(size - done[0])
            for error in report.rejected:
                click.echo(f"{path}:{error.line}: rejected: {error.reason}", err=True)
            total.merge(report)
        click.echo(format_report(total))
        if total.rejected:
            sys.exit(1)

    @app.cli.command("import-legacy")
    @click.argument(
        "file", type=click.Path(exists=True, dir_okay=False, path_type=Path)
    )
    @click.option("--dry-run", is_flag=True, help="Report only; write nothing.")
    @click.option(
        "--report",
        "report_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Report file [default: instance/legacy-import-<time>.txt; "
        "none for a dry run].",
    )
    @click.option(
        "--workers",
        type=click.IntRange(min=1),
        help="Processes rendering PDFs [default: one per core].",
    )
    def import_legacy_command(file, dry_run, report_path, workers):
        """Migrate active contracts and cases from the previous portal's export."""
        from ..imports.legacy import LegacyFormatError, import_legacy

        with click.progressbar(
            length=file.stat().st_size,
            label="Cases",
            file=sys.stderr,
            show_eta=True,
            show_pos=False,
            item_show_func=_cases_read,
        ) as bar:

            def progress(position: int, cases: int) -> None:
                bar.update(position - bar.pos, cases)

            try:
                report = import_legacy(
                    file, dry_run=dry_run, workers=workers, progress=progress
                )
            except LegacyFormatError as exc:
                raise click.ClickException(str(exc)) from exc
        text = report.format()
        click.echo(text)
        if report_path is None and not dry_run:
            report_path = Path(current_app.instance_path) / (
                f"legacy-import-{utcnow():%Y%m%dT%H%M%SZ}.txt"
            )
        if report_path is not None:
            report_path.parent.mkdir(parents=True, exist_ok=True)
            report_path.write_text(text + "\n", encoding="utf-8")
            click.echo(f"Report written to {report_path}")
        click.get_current_context().exit(1 if report.rejected else 0)

    @app.cli.command("import-worker")
    @click.option("--once", is_flag=True, help="Run the queued imports and exit.")
    @click.option(
        "--interval",
        type=click.FloatRange(min=0.1),
        default=5.0,
        show_default=True,
        help="Seconds between looks at the queue.",
    )
    def import_worker(once, interval):
        """Run the imports queued in the administrators' console, until stopped."""
        from ..imports.worker import run_worker

        run_worker(current_app._get_current_object(), once=once, interval=interval)


def _cases_read(count: int | None) -> str | None:
    """The progress bar's item text: how many case records were read."""
    return f"{count} read" if count else None


def format_report(report) -> str:
    """A contract register import's tallies, one line per table."""
    lines = [f"Rows read: {report.rows}"]
    for name in ("companies", "contracts", "devices"):
        t = getattr(report, name)
        lines.append(
            f"{name.capitalize():10} added {t.added}, updated {t.updated}, "
            f"unchanged {t.unchanged}"
        )
    lines.append(f"Rejected rows: {len(report.rejected)}")
    return "\n".join(lines)
