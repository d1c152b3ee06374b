"""How many cases are in each status, read without counting the cases.

The schema's triggers (migration 0012) append +1/-1 rows to
``case_status_delta`` as cases are written, in the writer's transaction; a
status's count is the sum of its rows. ``fold`` (run by ``hezo
run-reminders`` every minute) replaces them with one row per status, so a
read sums a handful of rows however many cases are open; ``rebuild`` counts
afresh (after a bulk load that bypassed the triggers, such as the page
benchmark's generator on PostgreSQL).
"""

from collections import Counter

from peewee import Table, fn

from ..db import db

DELTA = Table("case_status_delta", ("status", "delta"), _database=db)


def count_of(status: str):
    """A scalar subquery: the number of cases in ``status``."""
    total = DELTA.select(fn.SUM(DELTA.delta)).where(DELTA.status == status)
    return fn.COALESCE(total, 0)


def fold() -> int:
    """One row per status instead of its many; the number of rows folded."""
    with db.atomic():
        rows = db.execute_sql(
            "DELETE FROM case_status_delta RETURNING status, delta"
        ).fetchall()
        sums = Counter()
        for status, delta in rows:
            sums[status] += delta
        kept = [{"status": s, "delta": n} for s, n in sorted(sums.items()) if n]
        if kept:
            DELTA.insert(kept).execute()
    return len(rows)


def rebuild() -> None:
    """Count every status afresh from the cases."""
    from ..models import SupportCase

    with db.atomic():
        DELTA.delete().execute()
        counted = SupportCase.select(SupportCase.status, fn.COUNT(SupportCase.id))
        counted = counted.group_by(SupportCase.status)
        DELTA.insert(counted, columns=[DELTA.status, DELTA.delta]).execute()
