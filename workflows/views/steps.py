"""The views of the human steps. Each is thin: it validates its form, calls one
service of cases.services, and completes the viewflow task. They run inside
``dispatch.step``, which has already checked the user, locked the process and
re-read the task; a response other than a redirect rolls everything back."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from cases.agreements import services
from cases.agreements.forms import AreaFormSet, DecisionForm, DraftForm, ReviewForm, SignForm
from cases.follow_ups import services as follow_up_services
from cases.follow_ups.forms import FollowUpReportForm, FollowUpReviewForm
from cases.forms import apply_errors
from cases.models import Party

from ..nodes import complete_task


class StepView(TemplateView):
    """Base of the step views: ``agreement``, ``task`` and ``node`` come from dispatch."""

    template_name = "workflows/step.html"
    form_class = None
    party = None
    done_message = ""

    def dispatch(self, request, *args, agreement, task, node, **kwargs):
        self.agreement, self.task, self.node = agreement, task, node
        return super().dispatch(request, *args, **kwargs)

    def get_form(self):
        kwargs = self.form_kwargs()
        if self.request.method == "POST":
            return self.form_class(self.request.POST, self.request.FILES, **kwargs)
        return self.form_class(initial=self.initial(), **kwargs)

    def form_kwargs(self):
        return {}

    def initial(self):
        return {}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(agreement=self.agreement, task=self.task, node=self.node, party=self.party)
        context.setdefault("form", self.get_form())
        return context

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        if form.is_valid():
            try:
                completes = self.perform(form)
            except ValidationError as error:
                apply_errors(form, error)
            else:
                if completes:
                    self.complete()
                messages.success(request, self.done_message or _("Done."))
                return redirect("workflows:agreement", pk=self.agreement.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def perform(self, form) -> bool:
        """Call the step's service; return whether the task is complete."""
        raise NotImplementedError

    def complete(self):
        complete_task(self.request.activation, self.request.user)


class DraftStepView(StepView):
    template_name = "workflows/step_draft.html"
    form_class = DraftForm

    def initial(self):
        return {"title": self.agreement.title}

    def get_formset(self):
        areas = list(self.agreement.active_areas().prefetch_related("priorities"))
        kwargs = {"plan_period": self.agreement.plan_period, "prefix": "areas"}
        if self.request.method == "POST":
            return AreaFormSet(self.request.POST, **kwargs)
        initial = [
            {
                "id": a.pk,
                "title": a.title,
                "goal": a.goal,
                "region_commitment": a.region_commitment,
                "municipality_commitment": a.municipality_commitment,
                "contacts": a.contacts,
                "priorities": list(a.priorities.all()),
            }
            for a in areas
        ]
        return AreaFormSet(initial=initial, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("formset", self.get_formset())
        context["open_comments"] = self.agreement.comments.filter(round=self.agreement.review_round - 1).select_related(
            "area", "author"
        )
        return context

    def post(self, request, *args, **kwargs):
        form, formset = self.get_form(), self.get_formset()
        if form.is_valid() and formset.is_valid():
            areas = [
                services.AreaInput(
                    id=data.get("id"),
                    title=data["title"],
                    goal=data["goal"],
                    region_commitment=data["region_commitment"],
                    municipality_commitment=data["municipality_commitment"],
                    contacts=data.get("contacts", ""),
                    priorities=list(data.get("priorities", [])),
                    remove=data.get("DELETE", False),
                )
                for data in formset.cleaned_data
                if data and (data.get("id") or not data.get("DELETE"))
            ]
            try:
                if request.POST.get("submit_for_review"):
                    services.agreement_submit_for_review(
                        actor=request.user, agreement=self.agreement, title=form.cleaned_data["title"], areas=areas
                    )
                    self.complete()
                    messages.success(
                        request,
                        _("The draft has been sent to %(municipality)s for review.")
                        % {"municipality": self.agreement.municipality},
                    )
                    return redirect("workflows:agreement", pk=self.agreement.pk)
                services.agreement_save_draft(
                    actor=request.user, agreement=self.agreement, title=form.cleaned_data["title"], areas=areas
                )
                messages.success(request, _("The draft has been saved."))
                return redirect(request.path)
            except ValidationError as error:
                apply_errors(form, error)
        return self.render_to_response(self.get_context_data(form=form, formset=formset), status=400)


class ReviewStepView(StepView):
    template_name = "workflows/step_review.html"
    form_class = ReviewForm

    def form_kwargs(self):
        return {"areas": list(self.agreement.active_areas().prefetch_related("priorities"))}

    def perform(self, form):
        if form.cleaned_data["verdict"] == ReviewForm.ACCEPT:
            services.review_accept(
                actor=self.request.user, agreement=self.agreement, comment=form.cleaned_data["comment"]
            )
            self.done_message = _("You have accepted the draft. It now goes to political approval.")
        else:
            comments = [(None, form.cleaned_data["comment"])] + form.area_comments()
            services.review_request_changes(actor=self.request.user, agreement=self.agreement, comments=comments)
            self.done_message = _("Your comments have been sent. The region will revise the draft.")
        return True


class DecisionStepView(StepView):
    template_name = "workflows/step_decision.html"
    form_class = DecisionForm

    def initial(self):
        if self.party == Party.REGION:
            return {"body": "Kultur- och bildningsnämnden, Region Dalarna"}
        return {}

    def perform(self, form):
        data = form.cleaned_data
        services.decision_record(
            actor=self.request.user,
            agreement=self.agreement,
            party=self.party,
            body=data["body"],
            meeting_date=data["meeting_date"],
            paragraph=data["paragraph"],
            outcome=data["outcome"],
            ends_agreement=data["ends_agreement"],
            minutes_file=data.get("minutes"),
        )
        self.done_message = _("The decision has been recorded.")
        return True


class SignStepView(StepView):
    template_name = "workflows/step_sign.html"
    form_class = SignForm

    def initial(self):
        return {"signatory_name": self.request.user.full_name, "signatory_title": self.request.user.title}

    def perform(self, form):
        data = form.cleaned_data
        services.signature_record(
            actor=self.request.user,
            agreement=self.agreement,
            party=self.party,
            signatory_name=data["signatory_name"],
            signatory_title=data["signatory_title"],
            signed_on=data["signed_on"],
            signed_copy_file=data.get("signed_copy"),
        )
        self.done_message = _("The signature has been recorded.")
        return True


class FollowUpStepMixin:
    def current_follow_up(self):
        return self.agreement.follow_ups.order_by("-year").first()

    def get_context_data(self, **kwargs):
        kwargs.setdefault("follow_up", self.current_follow_up())
        return super().get_context_data(**kwargs)


class FollowUpReportStepView(FollowUpStepMixin, StepView):
    template_name = "workflows/step_follow_up_report.html"
    form_class = FollowUpReportForm

    def form_kwargs(self):
        entries = self.current_follow_up().entries.select_related("area")
        return {"entries": list(entries.filter(area__removed_at__isnull=True))}

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        if form.is_valid():
            submit = bool(request.POST.get("submit_follow_up"))
            files = [form.cleaned_data["file"]] if form.cleaned_data.get("file") else []
            try:
                follow_up_services.follow_up_report(
                    actor=request.user,
                    follow_up=self.current_follow_up(),
                    entries=form.entry_inputs(),
                    submit=submit,
                    files=files,
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                if submit:
                    self.complete()
                    messages.success(request, _("The follow-up has been handed in to the region."))
                    return redirect("workflows:agreement", pk=self.agreement.pk)
                messages.success(request, _("The follow-up has been saved."))
                return redirect(request.path)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class FollowUpReviewStepView(FollowUpStepMixin, StepView):
    template_name = "workflows/step_follow_up_review.html"
    form_class = FollowUpReviewForm

    def perform(self, form):
        accept = form.cleaned_data["verdict"] == FollowUpReviewForm.ACCEPT
        follow_up_services.follow_up_review(
            actor=self.request.user,
            follow_up=self.current_follow_up(),
            accept=accept,
            comment=form.cleaned_data["comment"],
        )
        self.done_message = (
            _("The follow-up has been accepted.")
            if accept
            else _("The follow-up has been returned to the municipality.")
        )
        return True
