"""Each person's e-mail setting, and the administrators' view of the outbox:
what is waiting, what failed and why, and sending a failed message again."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.permissions import can_manage_outgoing_email

from . import mail
from .forms import MailPreferenceForm, OutboxFilterForm
from .models import OutgoingEmail

PAGE_SIZE = 50
Status = OutgoingEmail.Status


@login_required
def preferences(request):
    form = MailPreferenceForm(request.POST or None, initial={"delivery": mail.mail_preference_of(request.user)})
    if request.method == "POST":
        if form.is_valid():
            mail.mail_preference_set(actor=request.user, user=request.user, delivery=form.cleaned_data["delivery"])
            messages.success(request, _("Your e-mail setting has been saved."))
            return redirect("background:preferences")
        return render(request, "background/preferences.html", {"form": form}, status=400)
    return render(request, "background/preferences.html", {"form": form})


@login_required
def outbox(request):
    if not can_manage_outgoing_email(request.user):
        raise PermissionDenied
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    form = OutboxFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_bound and form.is_valid() else ""
    rows = OutgoingEmail.objects.select_related("recipient", "task").order_by("-created_at", "-id")
    if status:
        rows = rows.filter(status=status)
    else:
        rows = rows.filter(Q(status=Status.FAILED) | Q(status=Status.PENDING, attempts__gt=0))
    counts = OutgoingEmail.objects.aggregate(
        **{value: Count("pk", filter=Q(status=value)) for value in Status.values},
        retrying=Count("pk", filter=Q(status=Status.PENDING, attempts__gt=0)),
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = f"status={status}" if status else ""
    status_code = 400 if form.is_bound and not form.is_valid() else 200
    return render(
        request,
        "background/outbox.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "counts": [(label, counts[value]) for value, label in Status.choices],
            "retrying": counts["retrying"],
        },
        status=status_code,
    )


@login_required
def outbox_retry(request, pk):
    if not can_manage_outgoing_email(request.user):
        raise PermissionDenied
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    email = OutgoingEmail.objects.filter(pk=pk).first()
    if email is None:
        raise Http404
    try:
        mail.email_retry(actor=request.user, email=email)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, _("The e-mail to %(address)s will be sent again at once.") % {"address": email.to_address}
        )
    return redirect("background:outbox")
