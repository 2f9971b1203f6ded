"""viewflow's own strings that our pages show. viewflow ships no Swedish, so
these msgids are listed here for `makemessages` to put them in our catalogue
(locale/sv), which takes precedence over the app's own. Never called."""

from django.utils.translation import gettext_lazy, pgettext_lazy

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

# Field and model names of viewflow's Process and Task, shown to administrators
# in the Django admin.
ADMIN_LABELS = [
    gettext_lazy("Assigned"),
    gettext_lazy("Created"),
    gettext_lazy("External Task ID"),
    gettext_lazy("Finished"),
    gettext_lazy("Flow"),
    gettext_lazy("Owner"),
    gettext_lazy("Permission"),
    gettext_lazy("Previous"),
    gettext_lazy("Process"),
    gettext_lazy("Process list"),
    gettext_lazy("Scheduled"),
    gettext_lazy("Started"),
    gettext_lazy("Status"),
    gettext_lazy("Task"),
    gettext_lazy("Tasks"),
    gettext_lazy("Token"),
    gettext_lazy("Type"),
    gettext_lazy("flow"),
]
