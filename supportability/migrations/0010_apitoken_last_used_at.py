from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("supportability", "0009_similarity_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="last_used_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
