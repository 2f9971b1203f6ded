"""What every page shows of who runs the service: the footer's organisation
and contact (settings SITE_ORGANISATION, SUPPORT_EMAIL, SUPPORT_PHONE)."""

from django.conf import settings


def site(request):
    return {
        "SITE_ORGANISATION": settings.SITE_ORGANISATION,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        "SUPPORT_PHONE": settings.SUPPORT_PHONE,
    }
