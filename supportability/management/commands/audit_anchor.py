from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from supportability.audit.checkpoints import checkpoint_store
from supportability.audit.sealing import audit_anchor
from supportability.audit.verification import chain_verify


class Command(BaseCommand):
    help = (
        "Start audit checkpoints for a chain sealed without them (the first start after an"
        " upgrade, or a new key or checkpoint directory): verify the chain as it stands,"
        " then write its head as the first checkpoint. Refuses where checkpoints exist."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = chain_verify()
        if report.broken is not None:
            raise CommandError(
                f"the chain is broken at seq {report.broken.seq} ({report.broken.kind}):"
                f" {report.broken.detail}. Not anchoring it."
            )
        try:
            checkpoint = audit_anchor()
        except RuntimeError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{report.events} events verified; checkpoints start at seq {checkpoint.seq}"
            f" in {checkpoint_store().describe()}"
        )
