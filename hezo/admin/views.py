"""The console's start page: one card per section, in ``ORDER``."""

from flask import render_template
from flask_babel import lazy_gettext as _l

from ..security import admin_required
from . import bp

#: (endpoint, title, what it is for); a section module appends its own entry.
SECTIONS: list[tuple[str, object, object]] = []


#: The cards' order on the start page: what an administrator does most first.
ORDER = ("admin.people", "admin.settings_page", "admin.imports", "admin.catalogue")


def section(endpoint: str, title, summary) -> None:
    """Show a section on the console's start page (after those of ``ORDER``
    the others, as they were added)."""
    SECTIONS.append((endpoint, title, summary))
    SECTIONS.sort(key=lambda card: ORDER.index(card[0]) if card[0] in ORDER else 99)


@bp.get("/")
@admin_required
def index():
    return render_template("admin/index.html", sections=SECTIONS, intro=INTRO)


INTRO = _l(
    "What used to need the command line: imports, people, settings, the service "
    "catalogue and the audit log. Every change here is recorded in the audit log."
)
