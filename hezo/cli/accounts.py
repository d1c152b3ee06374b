"""``hezo create-user`` and ``hezo invite-partner``: an account without
password or authenticator, and its one-time invitation link (3 days)."""

import click
from flask import Flask

LANGUAGE = click.Choice(["pl", "en"])


def init_app(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.option("--role", type=click.Choice(["engineer", "admin"]), required=True)
    @click.option("--email", required=True)
    @click.option("--name", required=True, help="First and last name.")
    @click.option("--language", type=LANGUAGE, default="pl")
    def create_user(role, email, name, language):
        """Create a staff account and print its one-time invitation link."""
        _invite(role, email, name, None, language)

    @app.cli.command("invite-partner")
    @click.option("--nip", required=True, help="The partner company's NIP.")
    @click.option("--email", required=True)
    @click.option("--name", required=True, help="First and last name.")
    @click.option("--language", type=LANGUAGE, default="pl")
    def invite_partner(nip, email, name, language):
        """Invite a reseller's user and print the one-time invitation link."""
        from ..staff.queries import company_by_nip

        company = company_by_nip(nip)
        if company is None:
            raise click.ClickException(f"No company with NIP {nip} in the register.")
        _invite("partner", email, name, company, language)


def _invite(role, email, name, company, language) -> None:
    from ..accounts.services import InvitationRefused, invite_by_administrator
    from ..db import utcnow

    try:
        email, link = invite_by_administrator(
            role, email, name, company, utcnow(), language
        )
    except InvitationRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Invitation for {email} ({role}), valid for 3 days:\n{link}")
