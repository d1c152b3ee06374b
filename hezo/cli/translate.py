"""``hezo translate update`` / ``compile``: the gettext catalogues of a
source checkout (the mappings are in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

import click
from flask import Flask

from ..config import CHECKOUT_DIR

#: The catalogues, relative to the checkout (``hezo translate`` works on one).
TRANSLATIONS = "hezo/translations"


def init_app(app: Flask) -> None:
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
