"""Django's SQLite backend, with one change: a table rebuilt by a migration keeps the rows
it holds even where they break a CHECK constraint added since.

SQLite cannot alter a table in place: Django builds a new one and copies the rows across,
and the copy re-checks every constraint. A row stored before a rule existed (kept on
purpose: see supportability.migration_operations; PostgreSQL keeps it under a NOT VALID
constraint) would then fail this and every later migration of its table. The copy runs
with CHECKs off; new writes are checked as always."""

from __future__ import annotations

from typing import Any

from django.db.backends.sqlite3 import base, schema


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    def _remake_table(self, model: Any, *args: Any, **kwargs: Any) -> None:
        self.execute("PRAGMA ignore_check_constraints = ON")
        try:
            super()._remake_table(model, *args, **kwargs)  # type: ignore[misc]
        finally:
            self.execute("PRAGMA ignore_check_constraints = OFF")


class DatabaseWrapper(base.DatabaseWrapper):
    SchemaEditorClass = DatabaseSchemaEditor
