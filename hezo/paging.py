"""Page numbers of paged lists, read from the query string."""

from flask import request


def requested_page() -> int:
    """The ``page`` argument, at least 1 (bad values mean the first page)."""
    return max(request.args.get("page", 1, type=int) or 1, 1)


def page_count(total: int, size: int) -> int:
    """How many pages ``total`` rows fill (at least one, even when empty)."""
    return max((total + size - 1) // size, 1)
