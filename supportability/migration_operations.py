"""Migration operations: a CHECK constraint added without refusing, or rewriting, the rows
already stored; and a guard that refuses TRUNCATE of a table of evidence.

Constraints that keep numbers finite and in range arrived after data: a database may hold
a row that breaks one (a NaN volume posted before intake checked it). Adding the
constraint the usual way would fail the migration on such a row, and "fixing" the row
would change evidence nobody has looked at. So, when a stored row breaks it, the
constraint is added for new writes only (PostgreSQL: `NOT VALID`; SQLite, which rebuilds
the table to add one, copies rows with CHECKs off: supportability.sqlite), the migration
says so, and
the rows are reported (supportability.data_checks; `manage.py data_check`), skipped by
training and shown as unavailable by pages. When no row breaks it, it is added and
validated as usual.
"""

from __future__ import annotations

from typing import Any

from django.db.migrations.operations import AddConstraint
from django.db.migrations.operations.base import Operation


def _violations(model: Any, constraint: Any, schema_editor: Any) -> int:
    with schema_editor.connection.cursor() as cursor:
        check = constraint._get_check_sql(model, schema_editor)
        table = schema_editor.quote_name(model._meta.db_table)
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE NOT ({check})")  # noqa: S608
        return int(cursor.fetchone()[0])


class AddConstraintForNewRows(AddConstraint):
    """AddConstraint for a CheckConstraint that tolerates stored rows breaking it."""

    model_name: str
    constraint: Any

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        broken = _violations(model, self.constraint, schema_editor)
        if not broken:
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        print(
            f"\n  {model._meta.label}: {broken} stored row(s) break {self.constraint.name};"
            " the constraint guards new writes only until they are dealt with"
            " (manage.py data_check lists them)."
        )
        if schema_editor.connection.vendor == "postgresql":
            sql = self.constraint.create_sql(model, schema_editor)
            schema_editor.execute(f"{sql} NOT VALID")
        else:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"{super().describe()} (for new rows if stored ones break it)"


# TRUNCATE fires no row trigger, so a row trigger refusing DELETE does not refuse it: a
# statement-level trigger does, whoever runs it (TRUNCATE ... CASCADE from another table
# included). Only the table's owner can disable it, which is why the application's role
# must not own the tables in production (docs/operations.md, "The database's roles").
REFUSE_TRUNCATE = "supportability_refuse_truncate"

CREATE_REFUSE_TRUNCATE = f"""
CREATE OR REPLACE FUNCTION {REFUSE_TRUNCATE}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'TRUNCATE of ' || TG_TABLE_NAME || ' refused: its rows are evidence',
        HINT = 'Decisions and the audit trail are kept; nothing deletes them wholesale.',
        ERRCODE = 'restrict_violation';
END
$$;
"""


def truncate_trigger(table: str) -> str:
    """The name of `table`'s guard (test databases disable it to flush between tests)."""
    return f"{table}_refuse_truncate"


class GuardTruncate(Operation):
    """Refuse TRUNCATE on `table` (PostgreSQL; SQLite has no TRUNCATE)."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, table: str) -> None:
        self.table = table

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [self.table], {})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(CREATE_REFUSE_TRUNCATE, params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {truncate_trigger(self.table)} BEFORE TRUNCATE ON {self.table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {REFUSE_TRUNCATE}()",
            params=None,
        )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {truncate_trigger(self.table)} ON {self.table}",
                params=None,
            )

    def describe(self) -> str:
        return f"Refuse TRUNCATE on {self.table}"
