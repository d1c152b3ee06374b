"""The queue's counts per status without counting the open cases: every
insert, status change and delete of a case appends its +1/-1 to
``case_status_delta`` (database triggers, so every writer is counted: the
portal, the imports, a restore, a retention run); the queue sums the few rows
per status, and ``hezo run-reminders`` folds them into one row each
(``hezo.staff.status_counts``)."""

from peewee import SqliteDatabase

SQLITE = (
    """CREATE TRIGGER case_status_counted_insert AFTER INSERT ON support_case
    BEGIN INSERT INTO case_status_delta (status, delta) VALUES (NEW.status, 1); END""",
    """CREATE TRIGGER case_status_counted_update AFTER UPDATE OF status ON support_case
    WHEN OLD.status <> NEW.status
    BEGIN INSERT INTO case_status_delta (status, delta)
    VALUES (OLD.status, -1), (NEW.status, 1); END""",
    """CREATE TRIGGER case_status_counted_delete AFTER DELETE ON support_case
    BEGIN INSERT INTO case_status_delta (status, delta) VALUES (OLD.status, -1); END""",
)

POSTGRESQL = (
    """CREATE FUNCTION case_status_counted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO case_status_delta (status, delta) VALUES (OLD.status, -1);
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            INSERT INTO case_status_delta (status, delta) VALUES (NEW.status, 1);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER case_status_counted_insert_delete AFTER INSERT OR DELETE
    ON support_case FOR EACH ROW EXECUTE FUNCTION case_status_counted()""",
    """CREATE TRIGGER case_status_counted_update AFTER UPDATE OF status
    ON support_case FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION case_status_counted()""",
)


def up(migrator, db):
    db.execute_sql(
        "CREATE TABLE case_status_delta ("
        "status VARCHAR(20) NOT NULL, delta INTEGER NOT NULL)"
    )
    db.execute_sql("CREATE INDEX case_status_delta_status ON case_status_delta (status)")
    for statement in SQLITE if isinstance(db, SqliteDatabase) else POSTGRESQL:
        db.execute_sql(statement)
    db.execute_sql(
        "INSERT INTO case_status_delta (status, delta) "
        "SELECT status, COUNT(*) FROM support_case GROUP BY status"
    )


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        for name in ("insert", "update", "delete"):
            db.execute_sql(f"DROP TRIGGER case_status_counted_{name}")
    else:
        db.execute_sql("DROP FUNCTION case_status_counted() CASCADE")
    db.execute_sql("DROP TABLE case_status_delta")
