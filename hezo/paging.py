"""Page numbers of paged lists, read from the query string."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from .inputs import number_arg


def requested_page() -> int:
    """The ``page`` argument, at least 1 (text that is not a number means the
    first page; a number beyond the database's integers or in other digits
    than 0-9 is refused)."""
    return max(number_arg("page", _l("This page number is not valid.")) or 1, 1)


def page_count(total: int, size: int) -> int:
    """How many pages ``total`` rows fill (at least one, even when empty)."""
    return max((total + size - 1) // size, 1)


@dataclass(frozen=True)
class Page:
    """One page of a list: its ``rows``, the 1-based ``page`` within
    ``1..pages`` and the ``total`` of rows on all pages (for ``pager()`` in
    templates/macros/ui.html)."""

    rows: list
    page: int
    pages: int
    total: int

    @classmethod
    def of(cls, rows: list, page: int, total: int, size: int) -> "Page":
        return cls(rows=rows, page=page, pages=page_count(total, size), total=total)

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages
