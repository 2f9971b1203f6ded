"""Errors as JSON: ``{"message": ..., "field": ..., "errors": [{"message", "field"}, ...]}``
in Swedish or English after the request's Accept-Language (Swedish when it
names neither). ``field`` is null when the error concerns the request as a
whole. Nothing here ever turns bad input into a 5xx."""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def language_of(request):
    """'sv' or 'en' from Accept-Language, by the client's preference; Swedish by default."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    supported = {code for code, _name in settings.LANGUAGES}
    for code, _quality in translation.trans_real.parse_accept_lang_header(header):
        code = code.lower().split("-")[0]
        if code in supported:
            return code
    return settings.LANGUAGE_CODE


def _flatten(detail, field=None):
    """[(field, message)] of DRF's error detail (dicts, lists, strings)."""
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "__all__") else (f"{field}.{key}" if field else str(key))
            found += _flatten(value, name)
        return found
    if isinstance(detail, list):
        found = []
        for index, value in enumerate(detail):
            found += _flatten(value, f"{field}[{index}]" if isinstance(value, dict) and field else field)
        return found
    return [(field, str(detail))]


def error_response(pairs, code, headers=None):
    errors = [{"message": message, "field": field} for field, message in pairs] or [
        {"message": _("The request could not be handled."), "field": None}
    ]
    body = {"message": errors[0]["message"], "field": errors[0]["field"], "errors": errors}
    return Response(body, status=code, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return error_response([(None, _("The request body is too large."))], status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, SuspiciousOperation):
        return error_response([(None, _("The request could not be handled."))], status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found, or not yours to see."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    headers = {key: value for key, value in response.headers.items() if key in ("WWW-Authenticate", "Retry-After")}
    if isinstance(exc, exceptions.ValidationError):
        return error_response(_flatten(exc.detail), response.status_code, headers)
    return error_response([(None, str(exc.detail))], response.status_code, headers)


# Django REST framework's Swedish catalogue words some of Django's own form
# messages differently, and an app's catalogue outranks Django's: these keep
# Django's wording on the pages and in the API alike (locale/sv outranks both).
DJANGO_WORDING = (
    gettext_noop("This field is required."),
    gettext_noop("Enter a valid URL."),
    gettext_noop("Enter a valid email address."),
    gettext_noop("The submitted file is empty."),
    gettext_noop("Upload a valid image. The file you uploaded was either not an image or a corrupted image."),
)
