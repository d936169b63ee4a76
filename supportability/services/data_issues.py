"""Recording what a data check found (supportability.data_checks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..audit import audit_record
from ..data_checks import Finding
from ..models import DataIssue


@dataclass(frozen=True)
class DataIssueChange:
    found: int  # new issues
    still_open: int
    resolved: int  # open issues the check no longer finds


@transaction.atomic
def data_issues_record(
    *, findings: Sequence[Finding], found_by: str, actor: Any = None
) -> DataIssueChange:
    """Open an issue for each new finding; resolve open issues no longer found. Audited
    when anything changed; running it twice on the same data changes nothing."""
    open_issues = {
        (i.model, i.row_id, i.rule): i
        for i in DataIssue.objects.select_for_update().filter(resolved_at__isnull=True)
    }
    keys = {(f.model, f.row_id, f.rule) for f in findings}
    new = [
        DataIssue(model=f.model, row_id=f.row_id, rule=f.rule, detail=f.detail, found_by=found_by)
        for f in findings
        if (f.model, f.row_id, f.rule) not in open_issues
    ]
    DataIssue.objects.bulk_create(new)
    gone = [issue.pk for key, issue in open_issues.items() if key not in keys]
    DataIssue.objects.filter(pk__in=gone).update(resolved_at=timezone.now())
    change = DataIssueChange(
        found=len(new), still_open=len(open_issues) - len(gone), resolved=len(gone)
    )
    if new or gone:
        audit_record(
            actor=actor,
            verb="data_issues.check",
            target=new[0] if new else DataIssue.objects.get(pk=gone[0]),
            after={
                "found": change.found,
                "resolved": change.resolved,
                "still_open": change.still_open,
                "by": found_by,
                "rules": sorted({f.rule for f in findings}),
            },
        )
    return change
