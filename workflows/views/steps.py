"""The views of the human steps: Django FormViews, each thin. A valid form
calls one service of the domain (``perform``) and, when the step is done,
completes the viewflow task. They run inside the step's wrapped view
(workflows.nodes.wrap_step_view), which has checked the user, locked the
process and re-read the task; a response other than a redirect rolls
everything back."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import FormView

from accounts.permissions import acting_for
from cases.agreements import services, signing_providers
from cases.agreements.forms import AreaFormSet, DecisionForm, DraftForm, ReviewForm, SignForm
from cases.follow_ups import services as follow_up_services
from cases.follow_ups.forms import FollowUpReportForm, FollowUpReviewForm
from cases.forms import apply_errors, ask_for_files_again
from cases.models import Party

from ..nodes import complete_task


class StepView(FormView):
    """Base of the step views. ``agreement``, ``task`` and ``node`` come from
    the wrapper. ``perform`` calls the step's service and says whether the
    step is done (the task is completed and the user goes to the agreement)
    or only saved (the user stays on the step); bad input, or a service's
    ValidationError, shows the form again with status 400."""

    template_name = "workflows/step.html"
    party = None
    done_message = ""

    def setup(self, request, *args, agreement, task, node, **kwargs):
        super().setup(request, *args, **kwargs)
        self.agreement, self.task, self.node = agreement, task, node

    def get_context_data(self, **kwargs):
        kwargs.update(agreement=self.agreement, task=self.task, node=self.node, party=self.party)
        kwargs["on_behalf_of"] = acting_for(
            self.request.user, self.agreement.municipality, self.node.action, owner=self.task.owner
        )
        return super().get_context_data(**kwargs)

    def form_valid(self, form):
        try:
            done = self.perform(form)
        except ValidationError as error:
            apply_errors(form, error)
            return self.form_invalid(form)
        if done:
            self.complete()
        messages.success(self.request, self.done_message or _("Done."))
        return redirect(self.get_success_url() if done else self.request.path)

    def form_invalid(self, form):
        ask_for_files_again(form)
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def get_success_url(self):
        return reverse("workflows:agreement", args=[self.agreement.pk])

    def perform(self, form) -> bool:
        """Call the step's service; return whether the step is done."""
        raise NotImplementedError

    def complete(self):
        complete_task(self.request.activation, self.request.user)


class DraftStepView(StepView):
    template_name = "workflows/step_draft.html"
    form_class = DraftForm
    formset = None

    def get_initial(self):
        return {"title": self.agreement.title}

    def get_formset(self):
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
            for a in self.agreement.active_areas().prefetch_related("priorities")
        ]
        return AreaFormSet(initial=initial, **kwargs)

    def get_context_data(self, **kwargs):
        kwargs.setdefault("formset", self.get_formset() if self.formset is None else self.formset)
        kwargs["open_comments"] = self.agreement.comments.filter(round=self.agreement.review_round - 1).select_related(
            "area", "author"
        )
        return super().get_context_data(**kwargs)

    def post(self, request, *args, **kwargs):
        form, self.formset = self.get_form(), self.get_formset()
        if form.is_valid() and self.formset.is_valid():
            return self.form_valid(form)
        return self.form_invalid(form)

    def perform(self, form):
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
            for data in self.formset.cleaned_data
            if data and (data.get("id") or not data.get("DELETE"))
        ]
        title = form.cleaned_data["title"]
        if self.request.POST.get("submit_for_review"):
            services.agreement_submit_for_review(
                actor=self.request.user, agreement=self.agreement, title=title, areas=areas
            )
            self.done_message = _("The draft has been sent to %(municipality)s for review.") % {
                "municipality": self.agreement.municipality
            }
            return True
        services.agreement_save_draft(actor=self.request.user, agreement=self.agreement, title=title, areas=areas)
        self.done_message = _("The draft has been saved.")
        return False


class ReviewStepView(StepView):
    template_name = "workflows/step_review.html"
    form_class = ReviewForm

    def get_form_kwargs(self):
        areas = self.agreement.active_areas().prefetch_related("priorities")
        return {**super().get_form_kwargs(), "areas": list(areas)}

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

    def get_initial(self):
        if self.request.method == "POST":
            # A bound form shows what was posted (none of its fields is disabled): the
            # initial values (two queries) would be read for nothing on every decision.
            return {}
        initial = {"document_sha256": self.document.sha256 if self.document else ""}
        # The organisation's default deciding body (set by administrators) is offered.
        if self.party == Party.REGION:
            from accounts.models import Organisation

            region = Organisation.objects.filter(kind=Organisation.Kind.REGION).first()
            initial["body"] = (region and region.deciding_body) or "Kultur- och bildningsnämnden, Region Dalarna"
        else:
            initial["body"] = self.agreement.municipality.deciding_body
        return initial

    @property
    def document(self):
        if not hasattr(self, "_document"):
            self._document = services.current_decision_material(self.agreement)
        return self._document

    def get_context_data(self, **kwargs):
        return super().get_context_data(document=self.document, **kwargs)

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
            document_sha256=data.get("document_sha256") or None,
        )
        self.done_message = _("The decision has been recorded.")
        return True


class SignStepView(StepView):
    """The signatory signs for themselves, after confirming who they are again
    (accounts.reauth); the service takes name, title and time from the account
    and the server's clock, and refuses anyone but the party's signatory."""

    template_name = "workflows/step_sign.html"
    form_class = SignForm

    @property
    def document(self):
        if not hasattr(self, "_document"):
            self._document = services.current_decision_material(self.agreement)
        return self._document

    def get_initial(self):
        return {"document_sha256": self.document.sha256 if self.document else ""}

    @property
    def provider(self):
        """The in-system signing provider (cases.agreements.signing_providers); 404 when disabled."""
        provider = signing_providers.provider("in_system")
        if provider is None:
            raise Http404
        return provider

    def prove(self, secret):
        self.proof = self.provider.complete(
            request=self.request, agreement=self.agreement, party=self.party, data={"secret": secret}
        )
        return self.proof.method

    def get_form_kwargs(self):
        shown = self.provider.begin(request=self.request, agreement=self.agreement, party=self.party)
        return {**super().get_form_kwargs(), "reauth": self.prove, "uses_code": shown["uses_code"]}

    def get_context_data(self, **kwargs):
        shown = self.provider.begin(request=self.request, agreement=self.agreement, party=self.party)
        return super().get_context_data(document=self.document, reauth_fresh=shown["reauth_fresh"], **kwargs)

    def perform(self, form):
        services.signature_record(
            actor=self.request.user,
            agreement=self.agreement,
            party=self.party,
            auth_method=self.proof.method,
            document_sha256=form.cleaned_data.get("document_sha256") or "",
        )
        self.done_message = _("You have signed the agreement.")
        return True


class FollowUpStepView(StepView):
    """A step on the agreement's current (latest) follow-up."""

    def current_follow_up(self):
        return self.agreement.follow_ups.order_by("-year").first()

    def get_context_data(self, **kwargs):
        kwargs.setdefault("follow_up", self.current_follow_up())
        return super().get_context_data(**kwargs)


class FollowUpReportStepView(FollowUpStepView):
    template_name = "workflows/step_follow_up_report.html"
    form_class = FollowUpReportForm

    def get_form_kwargs(self):
        entries = self.current_follow_up().entries.select_related("area")
        return {**super().get_form_kwargs(), "entries": list(entries.filter(area__removed_at__isnull=True))}

    def perform(self, form):
        submit = bool(self.request.POST.get("submit_follow_up"))
        follow_up_services.follow_up_report(
            actor=self.request.user,
            follow_up=self.current_follow_up(),
            entries=form.entry_inputs(),
            submit=submit,
            files=[form.cleaned_data["file"]] if form.cleaned_data.get("file") else [],
        )
        if submit:
            self.done_message = _("The follow-up has been handed in to the region.")
        else:
            self.done_message = _("The follow-up has been saved.")
        return submit


class FollowUpReviewStepView(FollowUpStepView):
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
        if accept:
            self.done_message = _("The follow-up has been accepted.")
        else:
            self.done_message = _("The follow-up has been returned to the municipality.")
        return True
