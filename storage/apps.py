from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StorageConfig(AppConfig):
    name = "storage"
    verbose_name = _("Stored files")
    default_auto_field = "django.db.models.BigAutoField"
