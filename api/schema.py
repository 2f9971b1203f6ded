"""The OpenAPI schema: every operation documents the JSON error it may answer with."""

from drf_spectacular.openapi import AutoSchema

ERROR_CODES = ("400", "401", "403", "404", "405", "406", "409", "413", "415", "429")


class ApiSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        from .serializers import ErrorSerializer

        bodies = super()._get_response_bodies(direction)
        if direction == "response":
            for code in ERROR_CODES:
                bodies.setdefault(code, self._get_response_for_code(ErrorSerializer, code, direction=direction))
        return bodies
