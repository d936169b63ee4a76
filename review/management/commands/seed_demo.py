from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from review.demo.seeding import demo_seed


class Command(BaseCommand):
    help = "Create the demo world once (merchants, a first model, a queue, demo users)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchants", type=int, default=5_000)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, merchants: int, seed: int, **options: Any) -> None:
        if merchants < 200:
            self.stderr.write("--merchants must be at least 200 for the first model to train.")
            raise SystemExit(2)
        summary = demo_seed(merchants=merchants, seed=seed)
        verb = "Seeded" if summary.created else "Already seeded:"
        self.stdout.write(
            f"{verb} {summary.merchants} merchants, {summary.queued} queued, model {summary.model}"
        )
        self.stdout.write("Demo logins (username / password):")
        for username, role, password in summary.users:
            self.stdout.write(f"  {role.value:8} {username} / {password}")
