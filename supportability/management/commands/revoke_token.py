from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from supportability.models import ApiToken
from supportability.services import token_revoke


class Command(BaseCommand):
    help = "Revoke an API token by name."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        try:
            token = token_revoke(name=name)
        except ApiToken.DoesNotExist as exc:
            raise CommandError(f"no token named {name!r}") from exc
        self.stdout.write(f"Revoked {token.name!r}.")
