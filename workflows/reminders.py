"""Reminders and escalation of open steps: the daily sweep.

On each working day (cases.workdays) the sweep looks at every open human
step with a due date and sends what is due today:

- a reminder to the people who can take the step (the person who took it,
  else everyone whose role may: ``accounts.permissions.users_who_can_each``)
  when the due date is ``REMINDER_WORKING_DAYS_BEFORE`` working days away or
  closer;
- a reminder on the due date itself;
- on the first working day after it, an escalation: the region's
  coordinators are told, and the step shows as escalated.

Each is recorded as a ``StepNotice`` (step, kind, due date), unique, in the
transaction that queues its e-mails: the sweep never sends the same notice
twice, however often or from however many workers it runs (a second sweep
at the same moment waits on a lock and then finds nothing left to send). A
day missed while no worker ran is caught up on the next working day (a
reminder before the due date that was missed is still sent; the one on the
due date is not, once the date has passed: the escalation follows instead).

The number of queries does not depend on how many steps are due: the steps
come in one query, their recipients in one, and the notices and e-mails are
inserted in one statement each."""

import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Exists, OuterRef, Value, When
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from viewflow.workflow.models import Task

from accounts.models import Absence
from accounts.permissions import Action, users_who_can_each, who_can
from background.mail import email_batch, queue_email
from cases.workdays import add_working_days, is_working_day

from .models import StepNotice
from .selectors import OPEN, steps

Kind = StepNotice.Kind
# Taken by PostgreSQL's pg_advisory_xact_lock for the sweep's transaction.
SWEEP_LOCK = 0x5A4D_0013


def _lock():
    """Let one sweep at a time through (the next one sees what it recorded)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SWEEP_LOCK])


def steps_to_notify(today: datetime.date):
    """The open steps that get a notice today, each with ``notice_kind``: one query."""
    horizon = add_working_days(today, settings.REMINDER_WORKING_DAYS_BEFORE)
    kind = Case(
        When(deadline__due_on__lt=today, then=Value(Kind.ESCALATED)),
        When(deadline__due_on=today, then=Value(Kind.DUE)),
        default=Value(Kind.BEFORE),
    )
    already = StepNotice.objects.filter(
        task=OuterRef("pk"), due_on=OuterRef("deadline__due_on"), kind=OuterRef("notice_kind")
    )
    return (
        Task.objects.filter(flow_task__in=steps(), status__in=OPEN, deadline__due_on__lte=horizon)
        .annotate(notice_kind=kind)
        .filter(~Exists(already))
        .select_related("deadline", "owner", "process__agreementprocess__agreement__municipality")
        .order_by("deadline__due_on", "pk")
    )


def recipients_of(task, kind, who, substitutes=None):
    """Who is told about ``task``: for an escalation the coordinators, else
    the person who took the step (while they may still act) and, while that
    person is away, their substitute; or everyone who may take it.
    ``who``: users_who_can_each's answer; ``substitutes``: absent user id →
    their substitutes' ids (substitutes_of)."""
    agreement = task.process.agreementprocess.agreement
    if kind == Kind.ESCALATED:
        return who[(Action.DRAFT, agreement.municipality_id)]
    takers = who[(Action(task.flow_task.action), agreement.municipality_id)]
    if task.owner_id is not None:
        standing_in = (substitutes or {}).get(task.owner_id, set())
        owner = [user for user in takers if user.pk == task.owner_id or user.pk in standing_in]
        if owner:
            return owner
    return takers


def substitutes_of(user_ids, day):
    """{absent user id: {substitute ids}} for the absences that last on ``day``: one query."""
    found = {}
    if user_ids:
        for user_id, substitute_id in (
            Absence.objects.current(day).filter(user_id__in=user_ids).values_list("user_id", "substitute_id")
        ):
            found.setdefault(user_id, set()).add(substitute_id)
    return found


def _message(task, kind, today):
    agreement = task.process.agreementprocess.agreement
    node = task.flow_task
    context = {
        "kind": kind,
        "agreement": agreement,
        "step_title": str(node.task_title),
        "due_on": task.deadline.due_on,
        "today": today,
        "who": task.owner.full_name if task.owner_id else who_can(node.action, agreement.municipality),
        "url": settings.SITE_URL.rstrip("/") + reverse("workflows:step", args=[task.process_id, node.name, task.pk]),
        "agreement_url": settings.SITE_URL.rstrip("/") + reverse("workflows:agreement", args=[agreement.pk]),
    }
    name = "escalated" if kind == Kind.ESCALATED else "reminder"
    subject = render_to_string(f"workflows/email/{name}_subject.txt", context)
    body = render_to_string(f"workflows/email/{name}.txt", context)
    return subject, body


REASONS = {
    Kind.BEFORE: gettext_noop("Reminder: the step is due soon"),
    Kind.DUE: gettext_noop("Reminder: the step is due today"),
    Kind.ESCALATED: gettext_noop("Escalation: the step is past its due date"),
}


def send_step_reminders(today: datetime.date | None = None) -> int:
    """Send today's reminders and escalations (nothing on a day off);
    returns how many notices were sent."""
    today = today or timezone.localdate()
    if not is_working_day(today):
        return 0
    with transaction.atomic():
        _lock()
        due = list(steps_to_notify(today))
        if not due:
            return 0
        pairs = set()
        for task in due:
            municipality_id = task.process.agreementprocess.agreement.municipality_id
            pairs.add((Action.DRAFT, municipality_id))
            pairs.add((task.flow_task.action, municipality_id))
        who = users_who_can_each(pairs)
        substitutes = substitutes_of({task.owner_id for task in due if task.owner_id is not None}, today)
        notices = []
        with translation.override(settings.LANGUAGE_CODE), email_batch():
            for task in due:
                kind = Kind(task.notice_kind)
                recipients = recipients_of(task, kind, who, substitutes)
                subject, body = _message(task, kind, today)
                queue_email(
                    to=recipients,
                    subject=subject,
                    body=body,
                    reason=_(REASONS[kind]),
                    kind=f"step_{kind}",
                    task=task,
                    digestible=True,
                )
                notices.append(
                    StepNotice(
                        task=task,
                        kind=kind,
                        due_on=task.deadline.due_on,
                        sent_on=today,
                        recipients=len(recipients),
                    )
                )
            StepNotice.objects.bulk_create(notices)
    return len(notices)
