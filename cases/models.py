from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.history import audited_history


class PlanPeriod(models.Model):
    """A period of the regional culture and education plan, e.g. 2023–2026."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    is_active = models.BooleanField(
        _("open for new agreements"), default=False, help_text=_("Closed periods keep their agreements, read-only.")
    )

    history = audited_history()

    class Meta:
        verbose_name = _("plan period")
        verbose_name_plural = _("plan periods")
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gt=models.F("starts_on")), name="period_ends_after_start"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.starts_on and self.ends_on and self.ends_on <= self.starts_on:
            raise ValidationError({"ends_on": _("The period must end after it starts.")})

    def contains(self, day):
        return self.starts_on <= day <= self.ends_on


class PlanPriority(models.Model):
    """A priority (development area) of a plan period that collaboration areas link to."""

    plan_period = models.ForeignKey(
        PlanPeriod, on_delete=models.PROTECT, related_name="priorities", verbose_name=_("plan period")
    )
    code = models.SlugField(_("code"), max_length=50)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)

    history = audited_history()

    class Meta:
        verbose_name = _("plan priority")
        verbose_name_plural = _("plan priorities")
        ordering = ["plan_period", "code"]
        constraints = [models.UniqueConstraint(fields=["plan_period", "code"], name="unique_priority_code_per_period")]

    def __str__(self):
        return self.title
