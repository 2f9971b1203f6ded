from django.utils.translation import gettext_lazy as _


class StepNotAllowed(Exception):
    """The agreement is not at a stage where this step can be taken (someone
    else may already have taken it). Views answer 409 with the message."""

    def __init__(self, message=None):
        super().__init__(message or _("This step cannot be taken now: the agreement has moved on."))
        self.message = message or _("This step cannot be taken now: the agreement has moved on.")
