"""The API's JSON body parser, with limits that answer clearly instead of failing late.

DRF reads the body past Django's DATA_UPLOAD_MAX_MEMORY_SIZE (it streams the request
rather than reading `request.body`), and Python's json module gives up on deeply nested
input with a RecursionError (a 500). Here the body is read up to the limit (413 past it),
nesting is bounded (400 past MAX_DEPTH), and NaN and the infinities are read as numbers so
that the field they were sent in refuses them by name (rather than a parse error that names
nothing)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def too_large_message(size: int | None, limit: int) -> str:
    got = f" ({size:,} bytes)" if size is not None else ""
    return (
        f"The request body is too large{got}: the limit is {limit:,} bytes."
        " Send fewer rows per request."
    )


def depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value (iteratively: no recursion
    limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


class JSONBodyParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(too_large_message(None, limit))
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"The body is not valid {encoding} text: {exc.reason}.") from exc
        try:
            data = json.loads(text)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error: {exc}.") from exc
        if depth(data) > MAX_DEPTH:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
        return data
