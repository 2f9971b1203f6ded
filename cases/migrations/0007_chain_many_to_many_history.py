from django.db import migrations, models


class Migration(migrations.Migration):
    """The history tables of many-to-many fields get a hash column, so that
    they are chained like every other history table; audit.0004 seals the rows
    they already hold and installs their chain trigger."""

    dependencies = [
        ("cases", "0006_protect_living_history"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalcollaborationarea_priorities",
            name="history_hash",
            field=models.CharField(blank=True, default="", editable=False, max_length=64, verbose_name="chain hash"),
        ),
        migrations.AddField(
            model_name="historicaldialoguemeeting_participants",
            name="history_hash",
            field=models.CharField(blank=True, default="", editable=False, max_length=64, verbose_name="chain hash"),
        ),
    ]
