"""One shape for every API error, whatever raised it:

    {"detail": "Invalid input: 2 errors.", "code": "invalid",
     "errors": [{"field": "[3].merchant.monthly_volume", "message": "...", "code": "..."}]}

`detail` is a sentence for people, `code` a stable word for programs, and `errors` lists
each field at fault by its path in the request: `[3]` is the fourth row of a list body,
`.name` a key, `explanation.terms[0][1]` a place inside a JSON value. Errors that concern
the request as a whole have an empty `errors` list. The OpenAPI schema documents the
shape as `Error` on every operation (supportability.api.schema).

DRF's own exceptions, Django's 404 and permission errors, a lost database connection (503,
nothing was written: retry) and over-size or over-deep bodies (413, 400) all come out so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from supportability.errors import InvalidInput

DATABASE_LOST = (
    "The database connection was lost before this request finished; nothing was saved."
    " Retry the request."
)


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = DATABASE_LOST
    default_code = "database_unavailable"


def _join(path: str, key: Any) -> str:
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return f"{path}[{key}]"
    if key in ("", "non_field_errors"):
        return path
    key = str(key)
    if key.startswith("["):
        return path + key
    return f"{path}.{key}" if path else key


def flatten(detail: Any, path: str = "") -> Iterator[dict[str, str]]:
    """DRF's nested error detail (dicts by field, lists by row, ErrorDetail leaves) as a
    flat list of {field, message, code}."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from flatten(value, _join(path, key))
    elif isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            for item in detail:
                yield {
                    "field": path,
                    "message": str(item),
                    "code": getattr(item, "code", "invalid"),
                }
        else:
            for index, item in enumerate(detail):
                yield from flatten(item, _join(path, index))
    elif detail is not None and detail != "":
        yield {"field": path, "message": str(detail), "code": getattr(detail, "code", "invalid")}


def error_body(
    detail: str, code: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {"detail": detail, "code": code, "errors": errors or []}


def invalid_body(errors: list[dict[str, str]]) -> dict[str, Any]:
    count = len(errors)
    if count == 1:
        where = f" {errors[0]['field']}" if errors[0]["field"] else ""
        summary = f"Invalid input:{where}: {errors[0]['message']}"
    else:
        summary = f"Invalid input: {count} errors."
    return error_body(summary, "invalid", errors)


def invalid_response(exc: InvalidInput) -> Response:
    """A service's InvalidInput, answered as any other validation error."""
    return Response(
        invalid_body([{"field": exc.field, "message": exc.message, "code": "invalid"}]),
        status=status.HTTP_400_BAD_REQUEST,
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, InvalidInput):
        set_rollback()
        return invalid_response(exc)
    if isinstance(exc, OperationalError | InterfaceError):
        # Raised out of the service's transaction, which rolled back: nothing half-written.
        exc = DatabaseUnavailable()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = invalid_body(list(flatten(exc.detail)))
        return response
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(detail, dict) and "detail" in detail:
        detail = detail["detail"]
    code = getattr(detail, "code", None) or _code(response.status_code)
    response.data = error_body(str(detail), str(code))
    if isinstance(exc, DatabaseUnavailable):
        response["Retry-After"] = "2"
    return response


def _code(status_code: int) -> str:
    return {
        400: "invalid",
        401: "not_authenticated",
        403: "permission_denied",
        404: "not_found",
        405: "method_not_allowed",
        406: "not_acceptable",
        409: "conflict",
        413: "too_large",
        415: "unsupported_media_type",
        429: "throttled",
        503: "unavailable",
    }.get(status_code, "error")


def conflict_response(message: str) -> Response:
    return Response(error_body(message, "conflict"), status=status.HTTP_409_CONFLICT)


# Django-level answers for /api/ paths (URL not found, server error), in the same shape.


def api_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("No such API endpoint.", "not_found"), status=404)


def api_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body("The server failed to answer this request.", "error"),
        status=500,
    )
