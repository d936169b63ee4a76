from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from supportability.models import ApiToken
from supportability.services import token_create


class Command(BaseCommand):
    help = "Create an API token; prints the token alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=[ApiToken.Scope.FLAGS_WRITE.value],
            choices=ApiToken.Scope.values,
        )
        parser.add_argument(
            "--user", help="an existing user to issue it to (default: a new service user)"
        )

    def handle(self, *args: Any, name: str, scopes: list[str], user: str | None, **o: Any) -> None:
        owner = None
        if user is not None:
            owner = get_user_model().objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"no user named {user!r}")
        try:
            token, secret = token_create(name=name, scopes=scopes, user=owner)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Token {token.name!r} for {token.user.get_username()}: {scopes}")
        self.stdout.write("Use it as 'Authorization: Bearer <token>'; it is not shown again.")
        self.stdout.write(secret)
