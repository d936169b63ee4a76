"""What the OpenAPI schema says beyond drf-spectacular's defaults, in one place
(DEFAULT_SCHEMA_CLASS is `ApiSchema`; the extensions below register on import).

Every API error has one shape (supportability.api.errors), published as the `Error`
component, and each operation lists the errors it can answer, from what it takes:

- 400 when it takes a body or query parameters (the fields at fault are named);
- 401 and 403 always (every endpoint needs a user, and a role or a token's scope);
- 404 when it has a path parameter or a cursor (a forged cursor is a 404);
- 413 and 415 when it takes a body (too large; not JSON);
- 429 always (the token's or the user's rate limit, with Retry-After);
- 503 always (the database connection was lost: nothing was saved, retry).

An error a view declares itself (a 409 with its own description) keeps its description and
gets the `Error` body. Also: bearer tokens as the `bearerAuth` security scheme, a list
body's bounds, and what free text may not hold (NUL; only whitespace where a value is
required), so that what the schema allows, the API accepts.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance, is_list_serializer
from rest_framework import serializers


class ErrorEntrySerializer(serializers.Serializer):
    field = serializers.CharField(
        help_text=(
            "where in the request: `[3].merchant.monthly_volume` (row 3 of a list body),"
            " `explanation.terms[0][1]` (inside a JSON value); empty for the request as a whole"
        )
    )
    message = serializers.CharField()
    code = serializers.CharField(help_text="a stable word for programs, e.g. `invalid`")


class ErrorSerializer(serializers.Serializer):
    """Every API error, whatever its status."""

    detail = serializers.CharField(help_text="a sentence for people")
    code = serializers.CharField(
        help_text="a stable word for programs: `invalid`, `not_authenticated`, `conflict`..."
    )
    # DRF's metaclass moves declared fields off the class, so this does not shadow
    # Serializer.errors at run time; mypy sees only the class body.
    errors = ErrorEntrySerializer(  # type: ignore[assignment]
        many=True, help_text="each field at fault; empty when the error concerns the request"
    )


INVALID = "Invalid input: `errors` names each field at fault."
NOT_AUTHENTICATED = "No credentials, or an invalid or revoked token."
FORBIDDEN = (
    "Your role, or your token's scope, does not allow this (or a session request came"
    " without its CSRF token)."
)
NOT_FOUND = "No such object."
NOT_FOUND_CURSOR = "An invalid cursor: ask for the first page again."
TOO_LARGE = "The request body is larger than the server accepts: send fewer rows per request."
UNSUPPORTED = "The request body is not `application/json`."
UNAVAILABLE = "The database connection was lost; nothing was saved. Retry the request."
THROTTLED = "Too many requests from this token or user: wait the seconds Retry-After says."

_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "required": True,
            "description": "`Bearer`",
        }
    },
    429: {
        "Retry-After": {
            "schema": {"type": "string"},
            "required": True,
            "description": "seconds to wait before retrying",
        }
    },
    503: {
        "Retry-After": {
            "schema": {"type": "string"},
            "required": True,
            "description": "seconds to wait before retrying",
        }
    },
}


def error_statuses(operation: dict[str, Any]) -> dict[int, str]:
    """The error answers an operation can give, by what it takes, with their descriptions."""
    parameters = operation.get("parameters", [])
    query = [p["name"] for p in parameters if p.get("in") == "query"]
    has_path = any(p.get("in") == "path" for p in parameters)
    has_body = "requestBody" in operation
    statuses: dict[int, str] = {}
    if has_body or query:
        statuses[400] = INVALID
    statuses[401] = NOT_AUTHENTICATED
    statuses[403] = FORBIDDEN
    if has_path or "cursor" in query:
        statuses[404] = NOT_FOUND if has_path else NOT_FOUND_CURSOR
    if has_body:
        statuses[413] = TOO_LARGE
        statuses[415] = UNSUPPORTED
    statuses[429] = THROTTLED
    statuses[503] = UNAVAILABLE
    return statuses


class ApiSchema(AutoSchema):
    def _get_request_for_media_type(self, serializer: Any, direction: Any = "request") -> Any:
        """A list body's bounds (drf-spectacular leaves out a ListSerializer's `allow_empty`
        and `max_length`)."""
        schema, required = super()._get_request_for_media_type(serializer, direction)
        instance = force_instance(serializer)
        if is_list_serializer(instance) and isinstance(schema, dict):
            body: Any = instance
            schema["minItems"] = max(body.min_length or 0, 0 if body.allow_empty else 1)
            if body.max_length is not None:
                schema["maxItems"] = body.max_length
        return schema, required

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        content = {
            media_type: {"schema": self.resolve_serializer(ErrorSerializer, "response").ref}
            for media_type in self.map_renderers("media_type")
        }
        responses: dict[str, Any] = operation["responses"]
        for status, description in error_statuses(operation).items():
            responses.setdefault(str(status), {"description": description})
        for code, response in responses.items():
            if int(code) < 400:
                continue
            # Errors a view declares itself (a 409) keep their description, with this body.
            response.setdefault("content", content)
            if int(code) in _HEADERS:
                response.setdefault("headers", _HEADERS[int(code)])
        operation["responses"] = dict(sorted(responses.items()))
        return operation


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "supportability.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <token>` (manage.py create_token)",
        }


# Free text holds no NUL (DRF refuses it; PostgreSQL cannot store it), and text that may not
# be blank needs a character other than whitespace (DRF trims it first). Said with `not`
# rather than an anchored pattern: generators then draw plain text (fast, even for 100,000
# characters) and drop the rare string that breaks the rule.
NUL = "\\u0000"
BLANK_OR_NUL = "^\\s*$|\\u0000"


class TextFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "supportability.api.fields.TextField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        if direction == "request":
            if self.target.allow_blank:
                schema["not"] = {"pattern": NUL}
            else:
                schema["not"] = {"pattern": BLANK_OR_NUL}
                schema["minLength"] = max(schema.get("minLength", 0), 1)
        return schema
