"""Changing the audit trail behind the application's back, as the database's owner (or a
superuser) could: with the triggers that refuse it switched off for the statement."""

from __future__ import annotations

from typing import Any

from django.db import connection


def as_owner(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        postgres = connection.vendor == "postgresql"
        if postgres:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the inserts' deferred checks
            cursor.execute("SET session_replication_role = replica")  # no trigger fires
        try:
            cursor.execute(sql, params or [])
        finally:
            if postgres:
                cursor.execute("SET session_replication_role = DEFAULT")
