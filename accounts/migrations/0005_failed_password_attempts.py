import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_sign_in_providers_sessions_enrolment"),
    ]

    operations = [
        migrations.CreateModel(
            name="FailedPasswordAttempt",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("ip", models.GenericIPAddressField()),
                ("fingerprint", models.CharField(max_length=64)),
                ("username", models.CharField(max_length=254)),
                ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ],
            options={
                "indexes": [models.Index(fields=["ip", "fingerprint", "at"], name="accounts_spray_lookup")],
            },
        ),
    ]
