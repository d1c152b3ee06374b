"""The ``hezo`` command: thin wrappers around services, reused by tests."""

import subprocess
import sys
from datetime import date
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo

from ..config import CHECKOUT_DIR

MIGRATIONS_DIR = Path(__file__).parent.parent / "migrations"
#: The catalogues, relative to the checkout (``hezo translate`` works on one).
TRANSLATIONS = "hezo/translations"


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


def migrate_database() -> list[str]:
    """Apply pending schema migrations; returns the names applied."""
    from playhouse.migrations import Runner

    from ..db import db

    return Runner(db.obj, str(MIGRATIONS_DIR)).up()


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db():
        """Create or upgrade the database schema."""
        applied = migrate_database()
        click.echo(f"Schema up to date ({len(applied)} migration(s) applied).")

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

    @app.cli.command("demo")
    @click.option(
        "--if-empty", is_flag=True, help="Load only into a database without contracts."
    )
    def demo(if_empty):
        """Load demo companies and contracts and print how to try the portal."""
        from ..demo import load_demo
        from ..models import Contract

        migrate_database()
        has_data = if_empty and Contract.select().exists()
        if has_data:
            click.echo("The database has data already; demo data not loaded again.")
        report, login = load_demo(date.today(), write=not has_data)
        if report is not None:
            click.echo(format_report(report))
        print_demo_logins(login)

    @app.cli.command("create-user")
    @click.option("--role", type=click.Choice(["engineer", "admin"]), required=True)
    @click.option("--email", required=True)
    @click.option("--name", required=True, help="First and last name.")
    @click.option("--language", type=click.Choice(["pl", "en"]), default="pl")
    def create_user(role, email, name, language):
        """Create a staff account and print its one-time invitation link."""
        _invite(role, email, name, None, language)

    @app.cli.command("invite-partner")
    @click.option("--nip", required=True, help="The partner company's NIP.")
    @click.option("--email", required=True)
    @click.option("--name", required=True, help="First and last name.")
    @click.option("--language", type=click.Choice(["pl", "en"]), default="pl")
    def invite_partner(nip, email, name, language):
        """Invite a reseller's user and print the one-time invitation link."""
        from ..identifiers import normalize_nip
        from ..models import Company

        company = Company.get_or_none(Company.nip == (normalize_nip(nip) or ""))
        if company is None:
            raise click.ClickException(f"No company with NIP {nip} in the register.")
        _invite("partner", email, name, company, language)

    @app.cli.command("run-reminders")
    def run_reminders_command():
        """Queue due return and response reminders, drop expired form keys
        (safe to run often)."""
        from ..db import utcnow
        from ..mail.reminders import run_reminders
        from ..submissions import purge_expired

        report = run_reminders(utcnow())
        purge_expired(utcnow())  # one-time form keys older than a day
        click.echo(
            f"Reminders queued: return soon {report.return_soon}, return "
            f"overdue {report.return_overdue}, response about to breach "
            f"{report.response_breach}."
        )

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

    from ..imports import legacy
    from ..mail import delivery

    delivery.register_cli(app)
    legacy.register_cli(app)

    @app.cli.group("translate")
    def translate():
        """Extract, update and compile the gettext catalogues."""

    @translate.command("update")
    def translate_update():
        """Extract messages and merge them into hezo/translations/*/messages.po."""
        extract_messages(checkout() / TRANSLATIONS / "messages.pot")
        pybabel(
            "update",
            "-i",
            f"{TRANSLATIONS}/messages.pot",
            "-d",
            TRANSLATIONS,
            "--no-fuzzy-matching",
        )

    @translate.command("compile")
    def translate_compile():
        """Compile the catalogues to .mo files."""
        pybabel("compile", "-d", TRANSLATIONS, "--statistics")


def checkout() -> Path:
    """The source checkout the catalogues are edited in; an installed package
    has its compiled catalogues already and no sources to extract from."""
    if CHECKOUT_DIR is None:
        raise click.ClickException(
            "hezo translate works on a source checkout; this hezo is installed "
            "without one."
        )
    return CHECKOUT_DIR


def pybabel(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", *args],
        check=True,
        cwd=checkout(),
    )


def extract_messages(pot: Path) -> None:
    """Extract every translatable string of the code and templates into ``pot``
    (the mappings are in pyproject.toml; the catalogue test uses this too)."""
    pybabel(
        "-q",
        "extract",
        "-F",
        "pyproject.toml",
        "-k",
        "_l",
        "-k",
        "lazy_gettext",
        "--no-location",
        "--sort-output",
        "-o",
        str(pot),
        ".",
    )


def print_demo_logins(proof) -> None:
    from ..accounts.totp import grouped
    from ..demo import DEMO_PASSWORD, ensure_demo_accounts

    accounts = ensure_demo_accounts()
    click.echo(f"\n=== Demo logins (password for all: {DEMO_PASSWORD}) ===")
    for account in accounts:
        click.echo(f"  {account.role:9} {account.email}")
        click.echo(
            f"            authenticator key (time-based, 6 digits): "
            f"{grouped(account.totp_key)}"
        )
        if account.recovery_codes:
            click.echo(
                f"            recovery codes: {', '.join(account.recovery_codes)}"
            )
    click.echo("  Add the key to an authenticator app, or print a code now with:")
    click.echo(
        "    .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('KEY').now())\""
    )
    click.echo("\nTo register a new customer account instead, use:")
    click.echo(
        f"  NIP {proof.nip}, contract {proof.contract_number}, serial {proof.serial}"
    )


def _invite(role, email, name, company, language) -> None:
    from email_validator import EmailNotValidError, validate_email

    from ..accounts.services import invite_user
    from ..db import utcnow
    from ..models import User

    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise click.ClickException(f"Not a valid e-mail address: {exc}") from exc
    existing = User.get_or_none(User.email == email)
    if existing is not None and (
        existing.totp_secret is not None or existing.role != role
    ):
        raise click.ClickException(f"An account with {email} exists already.")
    first, _, last = name.strip().partition(" ")
    # An invitation that was never completed is simply issued again.
    link = invite_user(role, email, first, last, company, utcnow(), language)
    click.echo(f"Invitation for {email} ({role}), valid for 3 days:\n{link}")


def format_backup(report, done: str) -> str:
    rows = sum(report.rows.values())
    return f"{done} {rows} rows in {len(report.rows)} tables and {report.files} files."


def format_report(report) -> str:
    lines = [f"Rows read: {report.rows}"]
    for name in ("companies", "contracts", "devices"):
        t = getattr(report, name)
        lines.append(
            f"{name.capitalize():10} added {t.added}, updated {t.updated}, "
            f"unchanged {t.unchanged}"
        )
    lines.append(f"Rejected rows: {len(report.rejected)}")
    return "\n".join(lines)
