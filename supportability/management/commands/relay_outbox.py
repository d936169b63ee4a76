from __future__ import annotations

import time
import traceback
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import InterfaceError, OperationalError, connection

from supportability.outbox import outbox_relay


class Command(BaseCommand):
    help = (
        "Publish the outbox's due messages to the Celery broker. Once, or with --loop every"
        " --interval seconds until stopped (the production relay process; several may run)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true")
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args: Any, loop: bool, interval: float, **options: Any) -> None:
        if interval <= 0 or interval != interval:
            self.stderr.write("--interval must be a positive number of seconds.")
            raise SystemExit(2)
        while True:
            try:
                result = outbox_relay()
            except (OperationalError, InterfaceError) as exc:
                # The database went away: try again at the next tick with a new connection.
                self.stderr.write(f"relay: database unavailable: {exc}")
                connection.close()
            except Exception:
                if not loop:
                    raise
                # The relay process must outlive one bad pass, whatever broke it: log it
                # whole and go on (what it could not publish stays due).
                self.stderr.write("relay: a pass failed:\n" + traceback.format_exc())
                connection.close()
            else:
                if result.published or result.error or not loop:
                    self.stdout.write(
                        f"relay: published {result.published}, {result.pending} waiting"
                        + (f" (broker: {result.error})" if result.error else "")
                    )
            if not loop:
                return
            time.sleep(interval)
