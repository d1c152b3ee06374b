"""``hezo demo``: demo companies, contracts, accounts and cases, and how to
sign in with them."""

from datetime import date

import click
from flask import Flask

from ..migrations import migrate_database
from .imports import format_report


def init_app(app: Flask) -> None:
    @app.cli.command("demo")
    @click.option(
        "--if-empty", is_flag=True, help="Load only into a database without contracts."
    )
    def demo(if_empty):
        """Load demo companies and contracts and print how to try the portal."""
        from ..demo import has_contracts, load_demo

        migrate_database()
        has_data = if_empty and has_contracts()
        if has_data:
            click.echo("The database has data already; demo data not loaded again.")
        report, login = load_demo(date.today(), write=not has_data)
        if report is not None:
            click.echo(format_report(report))
        print_demo_logins(login)


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
