"""Why: the one catalogue of the reasons history rows carry.

Every history row says who, when and why; the "why" is one of these (or, where
a person gives one, their own words: a withdrawal, a due date moved, a status
changed). Services write them through ``audit_context(reason=...)`` and tests
assert with the same names, so a reason is worded in one place.

It lives in ``accounts``, the lowest layer, beside ``audit_context``
(accounts.history): users and memberships have reasons too, and dependencies
point one way (workflows → cases → accounts), so this is the one place every
layer may import.

To add a reason: a constant here for a fixed one, a function for one with
parameters (its text stays one msgid with named placeholders, translated when
the row is written); the English msgid in ``_()``, its Swedish at the end of
locale/sv/LC_MESSAGES/django.po. Use it in the service, and in the service's
test (tests/cases/<domain>/test_services.py).
"""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# ---------------------------------------------------------------------------
# Users, organisations, memberships and sign-in (accounts.services, accounts.enrolment)
# ---------------------------------------------------------------------------

USER_CREATED = _("User created")
USER_CHANGED_IN_ADMINISTRATION = _("User changed in the administration")
ORGANISATION_CHANGED_IN_ADMINISTRATION = _("Organisation changed in the administration")
MEMBERSHIP_CREATED = _("Membership created")
MEMBERSHIP_CHANGED_IN_ADMINISTRATION = _("Changed in the administration")
DEMO_DATA = _("Demo data (seed_demo)")
MAIL_PREFERENCE_CHANGED = _("E-mail preference changed")
INTEGRATION_TOKEN_CREATED = _("Integration token created")
INTEGRATION_TOKEN_REVOKED = _("Integration token revoked")
WEBHOOK_REGISTERED = _("Webhook registered")
WEBHOOK_DEACTIVATED = _("Webhook deactivated")
PERSON_INVITED = _("Invited by e-mail")
PARTNER_ADDED = _("Partner in the dialogue added")
INVITATION_ACCEPTED = _("Invitation accepted: password set")


def first_sign_in_through(*, provider) -> str:
    """``provider``: the identity provider's name."""
    return gettext("First sign-in through %(provider)s") % {"provider": provider}


def membership_given_at_sign_in(*, provider) -> str:
    return gettext("Given at sign-in by %(provider)s") % {"provider": provider}


def membership_ended_at_sign_in(*, provider) -> str:
    return gettext("Ended at sign-in: %(provider)s no longer gives this role") % {"provider": provider}


def enrolment_code_handed_out(*, reason) -> str:
    """``reason``: the administrator's own words."""
    return gettext("Enrolment code for two-step verification handed out: %(reason)s") % {"reason": reason}


def two_factor_reset(*, reason) -> str:
    """``reason``: the administrator's own words."""
    return gettext("Two-step verification reset: %(reason)s") % {"reason": reason}


# ---------------------------------------------------------------------------
# Absences and substitutes (accounts.services, accounts.permissions)
# ---------------------------------------------------------------------------

ABSENCE_RECORDED = _("Absence recorded")
ABSENCE_ENDED_EARLY = _("Absence ended early")
ABSENCE_BEGUN = _("Absence begun: the substitute holds the roles")
ABSENCE_OVER = _("Absence over: the substitute's roles end")


def on_behalf_of(*, reason, person) -> str:
    """A step taken by a substitute: ``reason`` as written, for ``person`` (the absent one's name)."""
    if not reason:
        return gettext("Step taken for %(person)s") % {"person": person}
    return gettext("%(reason)s (for %(person)s)") % {"reason": reason, "person": person}


# ---------------------------------------------------------------------------
# Steps taken and handed over (workflows.services)
# ---------------------------------------------------------------------------


def step_released(*, step, reason) -> str:
    """``reason``: the coordinator's own words."""
    return gettext("Step “%(step)s” released: %(reason)s") % {"step": step, "reason": reason}


def step_handed_to(*, step, person, reason) -> str:
    """``reason``: the coordinator's own words."""
    return gettext("Step “%(step)s” handed to %(person)s: %(reason)s") % {
        "step": step,
        "person": person,
        "reason": reason,
    }


# ---------------------------------------------------------------------------
# Agreements (cases.agreements.services, workflows.services)
# ---------------------------------------------------------------------------

AGREEMENT_OPENED = _("Agreement opened")
DRAFT_SAVED = _("Draft saved")
DRAFT_ACCEPTED_IN_REVIEW = _("Draft accepted in municipal review")
ATTACHMENT_ADDED = _("Attachment added")
AGREEMENT_CLOSED = _("Agreement closed at the end of the plan period")


def draft_sent_for_review(*, round) -> str:
    return gettext("Draft sent for municipal review (round %(round)s)") % {"round": round}


def changes_requested_in_review(*, round) -> str:
    return gettext("Changes requested in municipal review (round %(round)s)") % {"round": round}


def decision_recorded(*, party, outcome) -> str:
    """``party``: a cases Party, ``outcome``: a Decision.Outcome (their labels are shown)."""
    return gettext("%(party)s decision recorded: %(outcome)s") % {"party": party.label, "outcome": outcome.label}


def decision_material_frozen(*, round, sha256) -> str:
    """``round``: the revision's round; ``sha256``: the PDF's SHA-256 (hex)."""
    return gettext("Decision material of round %(round)s frozen, SHA-256 %(sha256)s") % {
        "round": round,
        "sha256": sha256,
    }


SIGNED_AGREEMENT_QUEUED = _("Signed agreement queued for production")


def signed_agreement_produced(*, round, sha256) -> str:
    """``sha256``: the PAdES-signed PDF's SHA-256 (hex)."""
    return gettext("Signed agreement of round %(round)s produced and sealed, SHA-256 %(sha256)s") % {
        "round": round,
        "sha256": sha256,
    }


def signed_agreement_failed(*, error) -> str:
    return gettext("Signed agreement could not be produced: %(error)s") % {"error": error}


def signature_recorded(*, party) -> str:
    return gettext("%(party)s signature recorded") % {"party": party.label}


def paper_signature_recorded(*, party) -> str:
    return gettext("%(party)s paper signature registered") % {"party": party.label}


def agreement_withdrawn(*, reason) -> str:
    """``reason``: the withdrawer's own words."""
    return gettext("Agreement withdrawn: %(reason)s") % {"reason": reason}


def areas_copied_from(*, case_number) -> str:
    return gettext("Collaboration areas copied from %(case)s") % {"case": case_number}


def imported_from(*, file_name) -> str:
    """``file_name``: the name of the uploaded spreadsheet."""
    return gettext("Imported from %(file)s") % {"file": file_name}


# ---------------------------------------------------------------------------
# The regional plan: periods and priorities (cases.plans.services)
# ---------------------------------------------------------------------------

PLAN_PERIOD_CREATED = _("Plan period created")
PLAN_PERIOD_CHANGED = _("Plan period changed")
PRIORITY_CREATED = _("Plan priority created")
PRIORITY_CHANGED = _("Plan priority changed")
PRIORITY_RETIRED = _("Plan priority retired")
PRIORITY_REINSTATED = _("Plan priority offered again")


# ---------------------------------------------------------------------------
# Yearly follow-ups (cases.follow_ups.services)
# ---------------------------------------------------------------------------


def follow_up_opened(*, year) -> str:
    return gettext("Follow-up %(year)s opened") % {"year": year}


def follow_up_saved(*, year) -> str:
    return gettext("Follow-up %(year)s saved") % {"year": year}


def follow_up_handed_in(*, year) -> str:
    return gettext("Follow-up %(year)s handed in") % {"year": year}


def follow_up_accepted(*, year) -> str:
    return gettext("Follow-up %(year)s accepted") % {"year": year}


def follow_up_returned(*, year) -> str:
    return gettext("Follow-up %(year)s returned for completion") % {"year": year}


# ---------------------------------------------------------------------------
# Dialogue meetings (cases.meetings.services)
# ---------------------------------------------------------------------------

MEETING_RECORDED = _("Dialogue meeting recorded")
ACTION_POINT_ADDED = _("Action point added to the dialogue meeting")
