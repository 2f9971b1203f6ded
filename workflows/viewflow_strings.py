"""viewflow's own strings that our pages show. viewflow ships no Swedish, so
these msgids are listed here for `makemessages` to put them in our catalogue
(locale/sv), which takes precedence over the app's own. Never called."""

from django.utils.translation import pgettext_lazy

TASK_STATUSES = [
    pgettext_lazy("STATUS", "Assigned"),
    pgettext_lazy("STATUS", "Canceled"),
    pgettext_lazy("STATUS", "Done"),
    pgettext_lazy("STATUS", "Error"),
    pgettext_lazy("STATUS", "New"),
    pgettext_lazy("STATUS", "Revived"),
    pgettext_lazy("STATUS", "Scheduled"),
    pgettext_lazy("STATUS", "Started"),
]
