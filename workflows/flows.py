"""The agreement's process, top to bottom. Each human step names who takes it
(an action of accounts.permissions, checked as an object permission on the
agreement's municipality) and the view that does it. The gates read the
agreement's stage, which the cases services set: the process follows the
domain, never the other way round."""

import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from accounts.permissions import Action, can_act_for, can_do_anywhere
from cases.agreements.services import agreement_close
from cases.follow_ups.services import follow_up_date, follow_up_open, next_follow_up_year
from cases.models import Agreement, FollowUp, Stage

from .locks import ProcessRowLock
from .models import AgreementProcess
from .nodes import AgreementStep
from .views import steps as views


def _start_of(day):
    """Midnight at the start of ``day``, Swedish time."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _agreement(activation):
    # Read afresh: a step's service has just changed it in this transaction.
    return Agreement.objects.select_related("plan_period").get(pk=activation.process.agreement_id)


def _stage(activation):
    # Read afresh: the step's service has just changed it in this transaction.
    return Agreement.objects.values_list("stage", flat=True).get(pk=activation.process.agreement_id)


class AgreementFlow(flow.Flow):
    """Agreement

    An agreement (överenskommelse) between Region Dalarna and one municipality
    for one plan period, from draft to signed."""

    process_class = AgreementProcess
    # SELECT … FOR UPDATE on the process row, waiting up to 5 s (see workflows/locks.py).
    lock_impl = ProcessRowLock(timeout_ms=5000)

    # Opened by a coordinator (workflows.services.agreement_open).
    start = flow.StartHandle(this.start_process).Next(this.draft)

    # Signed before the system and imported (workflows.services.agreements_import):
    # the import made it in force or closed through the cases services; in force,
    # it waits for its follow-ups like one signed here, closed, its process ends.
    imported = flow.StartHandle(this.start_process).Next(this.after_import)
    after_import = (
        flow.If(lambda activation: _stage(activation) == Stage.IN_FORCE).Then(this.follow_up_pending).Else(this.closed)
    )

    # Regional coordinator: writes the collaboration areas; saves any number of times.
    draft = AgreementStep(views.DraftStepView.as_view(), action=Action.DRAFT, title=_("Write the draft")).Next(
        this.review
    )

    # The municipality's cultural head: accepts, or asks for changes (back to drafting).
    review = AgreementStep(views.ReviewStepView.as_view(), action=Action.REVIEW, title=_("Review the draft")).Next(
        this.after_review
    )
    after_review = flow.If(lambda activation: _stage(activation) == Stage.APPROVAL).Then(this.approval).Else(this.draft)

    # Both political bodies decide, in parallel. A decision other than
    # "approved" cancels the other branch at once.
    approval = flow.Split().Next(this.region_decision).Next(this.municipal_decision)
    region_decision = AgreementStep(
        views.DecisionStepView.as_view(party="region"),
        action=Action.DECIDE_REGION,
        title=_("Record the region's decision"),
    ).Next(this.approval_done)
    municipal_decision = AgreementStep(
        views.DecisionStepView.as_view(party="municipality"),
        action=Action.DECIDE_MUNICIPALITY,
        title=_("Record the municipality's decision"),
    ).Next(this.approval_done)
    approval_done = flow.Join(continue_on_condition=this.decision_not_approved).Next(this.after_approval)
    after_approval = (
        flow.Switch()
        .Case(this.signing, lambda activation: _stage(activation) == Stage.SIGNING)
        .Case(this.draft, lambda activation: _stage(activation) == Stage.DRAFTING)
        .Default(this.rejected)
    )

    # Both parties sign, in parallel; then the agreement is in force.
    signing = flow.Split().Next(this.sign_region).Next(this.sign_municipality)
    sign_region = AgreementStep(
        views.SignStepView.as_view(party="region"), action=Action.SIGN_REGION, title=_("Sign for the region")
    ).Next(this.signed)
    sign_municipality = AgreementStep(
        views.SignStepView.as_view(party="municipality"),
        action=Action.SIGN_MUNICIPALITY,
        title=_("Sign for the municipality"),
    ).Next(this.signed)
    signed = flow.Join().Next(this.follow_up_pending)

    # In force. Each remaining year of the plan period, on its follow-up date
    # (settings.FOLLOW_UP_OPENS), the municipality reports per area and the
    # coordinator reviews. The timers fire from `manage.py workflow_timers` (cron).
    follow_up_pending = (
        flow.If(lambda activation: next_follow_up_year(_agreement(activation)) is not None)
        .Then(this.follow_up_due)
        .Else(this.period_end)
    )
    follow_up_due = flow.Timer(this.next_follow_up_at).Next(this.open_follow_up)
    open_follow_up = flow.Function(this.start_follow_up).Next(this.write_follow_up)
    # The municipality's cultural head or official: writes the follow-up.
    write_follow_up = AgreementStep(
        views.FollowUpReportStepView.as_view(), action=Action.REPORT_FOLLOW_UP, title=_("Write the follow-up")
    ).Next(this.review_follow_up)
    # Regional coordinator: accepts, or returns it for completion.
    review_follow_up = AgreementStep(
        views.FollowUpReviewStepView.as_view(), action=Action.REVIEW_FOLLOW_UP, title=_("Review the follow-up")
    ).Next(this.after_follow_up_review)
    after_follow_up_review = flow.If(this.follow_up_accepted).Then(this.follow_up_pending).Else(this.write_follow_up)

    # At the plan period's end the agreement closes.
    period_end = flow.Timer(this.period_end_at).Next(this.close)
    close = flow.Function(this.close_agreement).Next(this.closed)

    closed = flow.End()
    rejected = flow.End()

    # -- callbacks -----------------------------------------------------------

    def start_process(self, activation, agreement):
        activation.process.agreement = agreement
        return activation.process

    def next_follow_up_at(self, activation):
        year = next_follow_up_year(_agreement(activation))
        return _start_of(follow_up_date(year))

    def start_follow_up(self, activation):
        agreement = _agreement(activation)
        follow_up_open(agreement=agreement, year=next_follow_up_year(agreement))

    def follow_up_accepted(self, activation):
        latest = FollowUp.objects.filter(agreement_id=activation.process.agreement_id).order_by("-year").first()
        return latest is not None and latest.status == FollowUp.Status.ACCEPTED

    def period_end_at(self, activation):
        return _start_of(_agreement(activation).plan_period.ends_on + datetime.timedelta(days=1))

    def close_agreement(self, activation):
        agreement_close(agreement=_agreement(activation))

    def decision_not_approved(self, activation, active_tasks):
        # A rejection or return moves the agreement out of approval at once.
        return _stage(activation) != Stage.APPROVAL

    # -- who sees what -------------------------------------------------------

    def has_view_permission(self, user, obj=None):
        """Municipal users see their own municipality's processes only;
        coordinators and auditors see all."""
        if not user.is_authenticated:
            return False
        if obj is None:
            return can_do_anywhere(user, Action.VIEW)
        agreement = obj.coerced.agreement if hasattr(obj, "coerced") else obj.agreement
        return can_act_for(user, agreement.municipality, Action.VIEW)

    def has_manage_permission(self, user, obj=None):
        """Nobody manages processes through viewflow's frontend: withdrawal and
        due dates go through our own services."""
        return False
