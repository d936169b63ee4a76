"""PostgreSQL for the test suite: Django's backend, except that flushing the database
between transactional tests lifts the TRUNCATE guards around its TRUNCATE.

The tables of evidence refuse TRUNCATE (supportability.migration_operations.GuardTruncate),
and Django flushes a PostgreSQL test database with one TRUNCATE of every table. The test
role owns the tables, as a deployment's owner role does, so it may disable a guard for the
length of the flush's transaction; the application's role in production owns nothing and
cannot (docs/operations.md)."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style: Any, tables: Any, **options: Any) -> list[str]:
        statements: list[str] = super().sql_flush(style, tables, **options)
        if not statements:
            return statements
        guarded = _guards(self.connection, set(tables))
        off = [f"ALTER TABLE {table} DISABLE TRIGGER {trigger}" for table, trigger in guarded]
        on = [f"ALTER TABLE {table} ENABLE TRIGGER {trigger}" for table, trigger in guarded]
        return off + statements + on


def _guards(connection: Any, tables: set[str]) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE t.tgname LIKE %s AND NOT t.tgisinternal",
            ["%\\_refuse\\_truncate"],
        )
        return sorted((table, trigger) for table, trigger in cursor.fetchall() if table in tables)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
