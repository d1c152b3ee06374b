"""A case's revision: a number that every change of the case's own row and
every insert, change and delete of its messages, files, status changes,
consent events, watchers and satisfaction answer raises, as does the start
of a case that follows it (database triggers, so every writer counts: the
portal, e-mail intake, imports, a restore, a retention run). A case page
kept for a customer or partner (``hezo.kept_pages``) is given again only at
the same revision.

Not a model field on purpose: ``Model.save()`` writes every field back, and
would put a revision read before a trigger raised it back in the row."""

from peewee import SqliteDatabase

#: The tables whose rows belong to one case (``case_id``).
CHILDREN = (
    "message",
    "attachment",
    "status_change",
    "consent_event",
    "case_watcher",
    "case_satisfaction",
)

RAISE = "UPDATE support_case SET revision = revision + 1 WHERE id = {row}.{column}"


def _sqlite() -> list[str]:
    statements = []
    for table in CHILDREN:
        for event, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
            extra = ""
            if event == "UPDATE":  # a row moved to another case changes both
                extra = "; " + RAISE.format(row="NEW", column="case_id") + (
                    " AND NEW.case_id IS NOT OLD.case_id"
                )
            statements.append(
                f"CREATE TRIGGER {table}_revises_case_{event.lower()} "
                f"AFTER {event} ON {table} BEGIN "
                f"{RAISE.format(row=row, column='case_id')}{extra}; END"
            )
    statements += [
        # Any other change of the case's own row (an update that raises the
        # revision itself, as the triggers above do, is not one).
        "CREATE TRIGGER case_revised_update AFTER UPDATE ON support_case "
        "WHEN NEW.revision = OLD.revision BEGIN "
        "UPDATE support_case SET revision = revision + 1 WHERE id = NEW.id; END",
        "CREATE TRIGGER case_follower_revises_case_insert AFTER INSERT ON support_case "
        "WHEN NEW.follows_id IS NOT NULL BEGIN "
        f"{RAISE.format(row='NEW', column='follows_id')}; END",
        "CREATE TRIGGER case_follower_revises_case_update AFTER UPDATE OF follows_id "
        "ON support_case BEGIN "
        f"{RAISE.format(row='OLD', column='follows_id')}; "
        f"{RAISE.format(row='NEW', column='follows_id')}; END",
        "CREATE TRIGGER case_follower_revises_case_delete AFTER DELETE ON support_case "
        "WHEN OLD.follows_id IS NOT NULL BEGIN "
        f"{RAISE.format(row='OLD', column='follows_id')}; END",
    ]
    return statements


def _postgresql() -> list[str]:
    statements = [
        # Any other change of the case's own row (an update that raises the
        # revision itself, as the functions below do, is not one).
        """CREATE FUNCTION case_row_revised() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.revision = OLD.revision THEN
                NEW.revision := OLD.revision + 1;
            END IF;
            RETURN NEW;
        END $$""",
        """CREATE TRIGGER case_revised_update BEFORE UPDATE ON support_case
        FOR EACH ROW EXECUTE FUNCTION case_row_revised()""",
        """CREATE FUNCTION case_revised() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                UPDATE support_case SET revision = revision + 1 WHERE id = OLD.case_id;
            END IF;
            IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.case_id IS DISTINCT FROM OLD.case_id) THEN
                UPDATE support_case SET revision = revision + 1 WHERE id = NEW.case_id;
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE FUNCTION case_follower_revised() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.follows_id IS NOT NULL THEN
                UPDATE support_case SET revision = revision + 1 WHERE id = OLD.follows_id;
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.follows_id IS NOT NULL THEN
                UPDATE support_case SET revision = revision + 1 WHERE id = NEW.follows_id;
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER case_follower_revises_case_insert_delete AFTER INSERT OR DELETE
        ON support_case FOR EACH ROW EXECUTE FUNCTION case_follower_revised()""",
        """CREATE TRIGGER case_follower_revises_case_update AFTER UPDATE OF follows_id
        ON support_case FOR EACH ROW WHEN (OLD.follows_id IS DISTINCT FROM NEW.follows_id)
        EXECUTE FUNCTION case_follower_revised()""",
    ]
    for table in CHILDREN:
        statements.append(
            f"CREATE TRIGGER {table}_revises_case AFTER INSERT OR UPDATE OR DELETE "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION case_revised()"
        )
    return statements


def up(migrator, db):
    db.execute_sql(
        "ALTER TABLE support_case ADD COLUMN revision INTEGER NOT NULL DEFAULT 0"
    )
    for statement in _sqlite() if isinstance(db, SqliteDatabase) else _postgresql():
        db.execute_sql(statement)


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        for table in CHILDREN:
            for event in ("insert", "update", "delete"):
                db.execute_sql(f"DROP TRIGGER {table}_revises_case_{event}")
        for event in ("insert", "update", "delete"):
            db.execute_sql(f"DROP TRIGGER case_follower_revises_case_{event}")
        db.execute_sql("DROP TRIGGER case_revised_update")
    else:
        db.execute_sql("DROP FUNCTION case_row_revised() CASCADE")
        db.execute_sql("DROP FUNCTION case_revised() CASCADE")
        db.execute_sql("DROP FUNCTION case_follower_revised() CASCADE")
    db.execute_sql("ALTER TABLE support_case DROP COLUMN revision")
