"""Find the stored rows that break the stored-value rules the previous migrations added
(for new rows only, where stored rows broke them), record each as a DataIssue and print a
report. Evidence is not changed: training, scoring and pages leave those rows out, and
`manage.py data_check` checks again after they are corrected. Numbers the app derives and
recomputes (a queued item's priority) are reset instead, and recorded as resolved."""

from django.db import migrations


def report(apps, schema_editor):
    from django.utils import timezone

    from supportability.data_checks import repair_derived, scan
    from supportability.data_checks import report as describe

    reset = repair_derived(apps)
    findings = scan(apps)
    if not findings and not reset:
        return
    DataIssue = apps.get_model("supportability", "DataIssue")
    now = timezone.now()
    DataIssue.objects.bulk_create(
        [
            DataIssue(
                model=f.model,
                row_id=f.row_id,
                rule=f.rule,
                detail=f.detail,
                found_by="migration review.0005",
                found_at=now,
                resolved_at=now if f in reset else None,
            )
            for f in [*reset, *findings]
        ],
        ignore_conflicts=True,
    )
    print("\n" + describe([*reset, *findings]))  # noqa: T201 (for the operator running migrate)


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0004_stored_values_finite"),
        ("labeling", "0007_stored_values_finite"),
        ("supportability", "0006_stored_values_finite"),
    ]

    operations = [migrations.RunPython(report, migrations.RunPython.noop)]
