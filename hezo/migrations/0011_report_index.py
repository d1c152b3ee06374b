"""Service-level reports: the cases reported in a month are read through an
index on ``reported_at`` (a month of the 200,000-case benchmark is about
5,500 rows; without it every report scans the whole table)."""


def up(migrator, db):
    migrator.migrate(
        migrator.add_index("support_case", ("reported_at",), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("support_case", "support_case_reported_at"),
    )
