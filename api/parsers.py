from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = _("The request body is too large.")
    default_code = "too_large"


class LimitedJSONParser(parsers.JSONParser):
    """JSON, refused with 413 past settings.API_MAX_BODY_SIZE bytes (DRF reads
    the stream itself, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_SIZE
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if length and length.isdigit() and int(length) > limit:
            raise BodyTooLarge
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise BodyTooLarge
        import io

        return super().parse(io.BytesIO(data), media_type, parser_context)
