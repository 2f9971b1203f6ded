"""cases.follow_ups.services, called directly: when a year's follow-up is due,
opening it, writing and handing it in, accepting or returning it, and the
history rows of each step."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import audit_reasons as reasons
from cases.exceptions import StepNotAllowed
from cases.follow_ups import services
from cases.follow_ups.services import EntryInput
from cases.models import FollowUp, PlanPeriod
from tests.cases.helpers import history_written, rows
from tests.factories import AgreementFactory, FollowUpFactory, municipality

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%%EOF\n"


def test_the_follow_up_opens_on_the_configured_day(settings):
    settings.FOLLOW_UP_OPENS = "10-01"
    assert services.follow_up_date(2024) == datetime.date(2024, 10, 1)
    settings.FOLLOW_UP_OPENS = "03-15"
    assert services.follow_up_date(2024) == datetime.date(2024, 3, 15)


def test_the_next_follow_up_year_counts_from_the_day_in_force(settings):
    settings.FOLLOW_UP_OPENS = "10-01"
    agreement = AgreementFactory(in_force=True)
    agreement.in_force_since = datetime.date(2023, 3, 1)
    assert services.next_follow_up_year(agreement) == 2023
    agreement.in_force_since = datetime.date(2023, 10, 2)  # after 2023's follow-up day
    assert services.next_follow_up_year(agreement) == 2024
    FollowUpFactory(agreement=agreement, year=2024)
    assert services.next_follow_up_year(agreement) == 2025
    agreement.in_force_since = datetime.date(2026, 10, 2)  # nothing left in the period
    assert services.next_follow_up_year(agreement) is None


def test_opening_a_follow_up_gives_each_area_an_entry():
    agreement = AgreementFactory(in_force=True, areas=3)
    with history_written() as written:
        follow_up = services.follow_up_open(agreement=agreement, year=2026)
    assert (follow_up.year, follow_up.status) == (2026, FollowUp.Status.OPEN)
    assert {e.area for e in follow_up.entries.all()} == set(agreement.active_areas())
    why = reasons.follow_up_opened(year=2026)  # the process opens it: no actor
    assert written == rows(("followup", "+", None, why), *[("followupentry", "+", None, why)] * 3)


def test_a_follow_up_opens_once_in_the_period_of_an_agreement_in_force():
    agreement = AgreementFactory(in_force=True)
    services.follow_up_open(agreement=agreement, year=2025)
    with pytest.raises(StepNotAllowed):
        services.follow_up_open(agreement=agreement, year=2025)
    with pytest.raises(ValidationError):
        services.follow_up_open(agreement=agreement, year=2027)
    with pytest.raises(StepNotAllowed):
        services.follow_up_open(
            agreement=AgreementFactory(in_signing=True, municipality=municipality("Orsa")), year=2025
        )
    assert agreement.follow_ups.count() == 1


def entries_of(follow_up, narrative="Det går bra.", progress="on_track"):
    return [EntryInput(area_id=e.area_id, progress=progress, narrative=narrative) for e in follow_up.entries.all()]


def test_saving_keeps_the_follow_up_open_and_handing_in_submits_it(mora_official):
    follow_up = FollowUpFactory(agreement__areas=2)
    with history_written() as saved:
        services.follow_up_report(
            actor=mora_official, follow_up=follow_up, entries=entries_of(follow_up, narrative=""), submit=False
        )
    assert FollowUp.objects.get(pk=follow_up.pk).status == FollowUp.Status.OPEN
    why = reasons.follow_up_saved(year=follow_up.year)
    assert saved == rows(*[("followupentry", "~", mora_official, why)] * 2)  # the progress changed

    with history_written() as handed_in:
        services.follow_up_report(actor=mora_official, follow_up=follow_up, entries=entries_of(follow_up), submit=True)
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.submitted_by) == (FollowUp.Status.SUBMITTED, mora_official)
    assert {e.narrative for e in follow_up.entries.all()} == {"Det går bra."}
    why = reasons.follow_up_handed_in(year=follow_up.year)
    assert handed_in == rows(
        ("followup", "~", mora_official, why),
        *[("followupentry", "~", mora_official, why)] * 2,
    )


def test_handing_in_needs_every_area_written(mora_head):
    follow_up = FollowUpFactory(agreement__areas=2)
    entries = entries_of(follow_up)
    entries[1].narrative = " "
    with pytest.raises(ValidationError) as error:
        services.follow_up_report(actor=mora_head, follow_up=follow_up, entries=entries, submit=True)
    assert follow_up.entries.get(area_id=entries[1].area_id).area.title in error.value.messages[0]
    assert FollowUp.objects.get(pk=follow_up.pk).status == FollowUp.Status.OPEN


def test_a_report_with_a_document(mora_head):
    follow_up = FollowUpFactory()
    with history_written() as written:
        services.follow_up_report(
            actor=mora_head,
            follow_up=follow_up,
            entries=entries_of(follow_up),
            submit=False,
            files=[SimpleUploadedFile("underlag.pdf", PDF)],
        )
    (attachment,) = follow_up.attachments.all()
    assert (attachment.kind, attachment.agreement) == ("follow_up", follow_up.agreement)
    why = reasons.follow_up_saved(year=follow_up.year)
    assert written == rows(
        ("attachment", "+", mora_head, reasons.ATTACHMENT_ADDED),
        ("attachment", "~", mora_head, why),
        ("followupentry", "~", mora_head, why),
    )


def test_only_the_municipality_reports_and_only_an_open_follow_up(coordinator, falun_head, mora_head):
    follow_up = FollowUpFactory()
    for user in (coordinator, falun_head):
        with pytest.raises(PermissionDenied):
            services.follow_up_report(actor=user, follow_up=follow_up, entries=entries_of(follow_up), submit=True)
    services.follow_up_report(actor=mora_head, follow_up=follow_up, entries=entries_of(follow_up), submit=True)
    with pytest.raises(StepNotAllowed):
        services.follow_up_report(actor=mora_head, follow_up=follow_up, entries=entries_of(follow_up), submit=True)


def test_a_report_cannot_write_another_follow_up_s_areas(mora_head):
    follow_up = FollowUpFactory()
    other = FollowUpFactory(agreement__municipality=municipality("Orsa"))
    with pytest.raises(ValidationError):
        services.follow_up_report(actor=mora_head, follow_up=follow_up, entries=entries_of(other), submit=False)


def submitted(**kwargs):
    return FollowUpFactory(status=FollowUp.Status.SUBMITTED, **kwargs)


def test_the_coordinator_accepts(coordinator):
    follow_up = submitted()
    with history_written() as written:
        services.follow_up_review(actor=coordinator, follow_up=follow_up, accept=True)
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.reviewed_by) == (FollowUp.Status.ACCEPTED, coordinator)
    assert written == rows(("followup", "~", coordinator, reasons.follow_up_accepted(year=follow_up.year)))


def test_a_return_needs_a_comment_and_reopens_the_report(coordinator, mora_head):
    follow_up = submitted()
    with pytest.raises(ValidationError) as error:
        services.follow_up_review(actor=coordinator, follow_up=follow_up, accept=False, comment=" ")
    assert "comment" in error.value.message_dict
    with history_written() as written:
        services.follow_up_review(actor=coordinator, follow_up=follow_up, accept=False, comment="Område 2 saknas.")
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.review_comment) == (FollowUp.Status.RETURNED, "Område 2 saknas.")
    assert written == rows(("followup", "~", coordinator, reasons.follow_up_returned(year=follow_up.year)))
    services.follow_up_report(actor=mora_head, follow_up=follow_up, entries=entries_of(follow_up), submit=True)
    assert FollowUp.objects.get(pk=follow_up.pk).status == FollowUp.Status.SUBMITTED


def test_review_is_the_region_s_and_only_of_a_handed_in_follow_up(coordinator, mora_head):
    with pytest.raises(PermissionDenied):
        services.follow_up_review(actor=mora_head, follow_up=submitted(), accept=True)
    with pytest.raises(StepNotAllowed):
        services.follow_up_review(
            actor=coordinator,
            follow_up=FollowUpFactory(agreement__municipality=municipality("Orsa")),  # still open
            accept=True,
        )


def test_an_agreement_of_an_ended_period_has_no_follow_up_to_come():
    agreement = AgreementFactory(in_force=True, plan_period=PlanPeriod.objects.get(name="2019–2022"))
    agreement.in_force_since = datetime.date(2022, 11, 1)
    assert services.next_follow_up_year(agreement) is None
