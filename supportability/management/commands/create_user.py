from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from supportability.roles import Role
from supportability.services import user_create


class Command(BaseCommand):
    help = "Create a user in a role (or add the role and reset the password)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--password", help="generated and printed when omitted")

    def handle(self, *args: Any, username: str, role: str, password: str | None, **o: Any) -> None:
        user, password = user_create(username=username, role=Role(role), password=password)
        self.stdout.write(f"{user.get_username()} ({role}) password: {password}")
