"""The workflow's scheduled jobs (settings.BACKGROUND_SCHEDULE)."""

from viewflow.workflow.timers import fire_due_conditions, fire_due_start_timers, fire_due_timers


def fire_workflow_timers() -> str:
    """What `manage.py workflow_timers` does: fire the due timers (the
    yearly follow-ups open, agreements close at their period's end). Safe to
    run from two workers at once: viewflow fires each timer under the
    process's lock and re-checks it there."""
    fired = fire_due_timers()
    started = fire_due_start_timers()
    conditions = fire_due_conditions()
    return f"{fired} timers, {started} starts, {conditions} conditions"
