"""Load the policy taxonomy (a fixture, kept as data) and the first policy version, so that
every database, test databases included, has them."""

from __future__ import annotations

from django.db import migrations

from supportability.taxonomy import taxonomy_install


def load_taxonomy(apps, schema_editor):
    taxonomy_install(
        apps.get_model("supportability", "PolicyCategory"),
        apps.get_model("supportability", "PolicyVersion"),
    )


class Migration(migrations.Migration):
    dependencies = [("supportability", "0001_initial")]
    operations = [migrations.RunPython(load_taxonomy, migrations.RunPython.noop)]
