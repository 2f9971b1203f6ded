"""Run as a script against DATABASE_URL (by tests/ops/test_backup_restore.py):

    python tests/ops/backup_snapshot.py add-files   # attach documents to the demo data
    python tests/ops/backup_snapshot.py snapshot    # print what users see, as JSON

The snapshot is what must be the same after a restore: every agreement's page
(as a coordinator) and timeline (as the auditor), every attachment's and
meeting minutes' bytes as downloaded, and the number of rows of every table.
"""

import hashlib
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import User  # noqa: E402

TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def add_files():
    from cases.agreements.services import attachment_add
    from cases.models import Agreement

    coordinator = User.objects.get(email="samordnare@regiondalarna.se")
    head = b"%PDF-1.4\n% the signed agreement\n"
    for number, agreement in enumerate(Agreement.objects.order_by("pk")[:3]):
        body = hashlib.sha256(str(number).encode()).digest() * (80_000 * (number + 1))  # 2.5, 5, 7.7 MB
        attachment_add(
            actor=coordinator,
            agreement=agreement,
            uploaded=SimpleUploadedFile(f"avtal-{number}.pdf", head + body, content_type="application/pdf"),
        )
    print("files added")


def digest(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200, (response.status_code, body[:300])
    return hashlib.sha256(TOKEN.sub(b"", body)).hexdigest()


def snapshot():
    from cases.models import Agreement, Attachment, DialogueMeeting

    # Counted first: signing the readers in below writes sign-in events and history.
    rows = {
        model._meta.db_table: model._base_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and model._meta.db_table != "django_session"
    }
    coordinator, auditor = Client(SERVER_NAME="localhost"), Client(SERVER_NAME="localhost")
    coordinator.force_login(User.objects.get(email="samordnare@regiondalarna.se"))
    auditor.force_login(User.objects.get(email="revisor@regiondalarna.se"))
    pages = {}
    for pk in Agreement.objects.order_by("pk").values_list("pk", flat=True):
        pages[f"agreement {pk}"] = digest(coordinator.get(reverse("workflows:agreement", args=[pk])))
        pages[f"timeline {pk}"] = digest(auditor.get(reverse("workflows:agreement_timeline", args=[pk])))
    for pk in Attachment.objects.order_by("pk").values_list("pk", flat=True):
        pages[f"attachment {pk}"] = digest(coordinator.get(reverse("workflows:attachment", args=[pk])))
    for pk in DialogueMeeting.objects.exclude(minutes_file="").values_list("pk", flat=True):
        pages[f"minutes {pk}"] = digest(coordinator.get(reverse("workflows:meeting_minutes", args=[pk])))
    print(json.dumps({"pages": pages, "rows": rows}, sort_keys=True))


if __name__ == "__main__":
    {"add-files": add_files, "snapshot": snapshot}[sys.argv[1]]()
