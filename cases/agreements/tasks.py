"""The background worker's tasks for agreements (background/tasks.py says how
tasks are queued and run)."""

from django_tasks import task


@task()
def produce_signed_agreement(agreement_id: int):
    """Produce and seal the signed agreement (services.signed_agreement_produce)."""
    from .services import signed_agreement_produce

    production = signed_agreement_produce(agreement_id=agreement_id)
    return {"agreement": agreement_id, "state": production.state, "error": production.error}
