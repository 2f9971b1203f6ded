"""Housekeeping jobs of the worker itself (see settings.BACKGROUND_SCHEDULE)."""

import datetime

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

# Finished task rows are the queue's working memory, not a record: the
# outbox and its delivery events are. Kept a week for diagnosis.
KEEP_FINISHED_TASKS = datetime.timedelta(days=7)


def prune_task_results() -> int:
    """Remove the queue's task rows that finished more than a week ago."""
    deleted, _per_model = (
        DBTaskResult.objects.finished().filter(finished_at__lt=timezone.now() - KEEP_FINISHED_TASKS).delete()
    )
    return deleted
