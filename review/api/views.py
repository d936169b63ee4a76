"""Snapshots of clean labels for retraining jobs, and the clean labels themselves. Each
method parses, calls one service or query, serialises."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from review.api.export import CONTENT_TYPES, FIELDS, batched, rows_formatted
from review.models import CleanLabel
from supportability.api.errors import conflict_response
from supportability.api.pagination import IdCursorPagination
from supportability.api.permissions import RoleOrScope
from supportability.models import ApiToken, LabelSnapshot
from supportability.roles import Role
from supportability.services.request_audit import export_record, request_facts

from .serializers import (
    CLEAN_LABEL_COLUMNS,
    CleanLabelOutSerializer,
    CleanLabelQuerySerializer,
    RowsQuerySerializer,
    SnapshotInSerializer,
    SnapshotOutSerializer,
)
from .services import NOTHING_TO_SNAPSHOT, SnapshotEmpty, snapshot_request


class LabelReader(APIView):
    """Leads and admins in a session; a token with `labels:read` (a retraining job)."""

    permission_classes = (IsAuthenticated, RoleOrScope)
    required_roles = (Role.LEAD, Role.ADMIN)
    required_scope = ApiToken.Scope.LABELS_READ


class SnapshotCursor(IdCursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class CleanLabelCursor(IdCursorPagination):
    # merchant_id, not id: a refresh replaces every row (new ids), not the merchants.
    ordering = "merchant_id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1_000


class SnapshotListView(LabelReader, GenericAPIView[LabelSnapshot]):
    pagination_class = SnapshotCursor
    # What OPTIONS describes as the POST body (DRF reads it from here).
    serializer_class = SnapshotInSerializer

    @extend_schema(
        responses={200: SnapshotOutSerializer(many=True)}, summary="Label snapshots, newest first"
    )
    def get(self, request: Request) -> Response:
        queryset = LabelSnapshot.objects.select_related("created_by", "policy_version")
        page = self.paginate_queryset(queryset)
        data = SnapshotOutSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(
        request=SnapshotInSerializer,
        responses={
            201: SnapshotOutSerializer,
            409: OpenApiResponse(description=f"Refused: {NOTHING_TO_SNAPSHOT}."),
        },
        summary="Freeze the current clean labels usable for training into a new snapshot",
    )
    def post(self, request: Request) -> Response:
        form = SnapshotInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            snapshot = snapshot_request(
                actor=request.user,
                refresh=form.validated_data["refresh"],
                note=form.validated_data["note"],
            )
        except SnapshotEmpty as exc:
            return conflict_response(str(exc))
        data = SnapshotOutSerializer(snapshot, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class SnapshotDetailView(LabelReader):
    @extend_schema(responses={200: SnapshotOutSerializer}, summary="One snapshot's metadata")
    def get(self, request: Request, snapshot_id: int) -> Response:
        snapshot = get_object_or_404(
            LabelSnapshot.objects.select_related("created_by", "policy_version"), pk=snapshot_id
        )
        return Response(SnapshotOutSerializer(snapshot, context={"request": request}).data)


class JSONOnly(DefaultContentNegotiation):
    """The rows endpoint's `?format=` names the download, not a DRF renderer, and a client
    may send `Accept: text/csv`: errors are rendered as JSON whatever either says, and the
    view validates the format itself (400, where DRF would answer 404 or 406)."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


ROWS = (
    "`format=jsonl`: one JSON object a line (`application/x-ndjson`); `format=csv`: a header"
    " line, then one line a row (`text/csv`). The fields: "
    + ", ".join(f"`{field}`" for field in FIELDS)
    + "."
)


class SnapshotRowsView(LabelReader):
    content_negotiation_class = JSONOnly

    @extend_schema(
        parameters=[
            OpenApiParameter("format", enum=["jsonl", "csv"], default="jsonl"),
            OpenApiParameter(
                "X-Content-SHA256",
                location=OpenApiParameter.HEADER,
                response=[200],
                required=True,
                pattern="^[0-9a-f]{64}$",
                description="the snapshot's `content_sha256`",
            ),
            OpenApiParameter(
                "Content-Disposition",
                location=OpenApiParameter.HEADER,
                response=[200],
                required=True,
                description='`attachment; filename="snapshot-<id>.<format>"`',
            ),
        ],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description=ROWS),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=ROWS),
        },
        summary="Every row of a snapshot, streamed in merchant order",
        description=(
            "Leads and admins in a session; a token with `labels:read`. The `X-Content-SHA256`"
            " header carries the snapshot's `content_sha256` (a hash of its rows and policy"
            " version, not of the bytes of this body)."
        ),
    )
    def get(self, request: Request, snapshot_id: int) -> StreamingHttpResponse:
        query = RowsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fmt = query.validated_data["format"]
        snapshot = get_object_or_404(LabelSnapshot, pk=snapshot_id)
        # Recorded before the body streams (the view's last word on the download).
        export_record(
            actor=request.user,
            verb="export.snapshot",
            target=snapshot,
            fmt=fmt,
            source=request_facts(request),
            filters=snapshot.filters,
        )
        response = StreamingHttpResponse(
            batched(rows_formatted(snapshot, fmt=fmt)), content_type=CONTENT_TYPES[fmt]
        )
        response["X-Content-SHA256"] = snapshot.content_sha256
        response["Content-Disposition"] = f'attachment; filename="snapshot-{snapshot.pk}.{fmt}"'
        return response


class CleanLabelListView(LabelReader, GenericAPIView[Any]):
    pagination_class = CleanLabelCursor

    @extend_schema(
        parameters=[CleanLabelQuerySerializer],
        responses={200: CleanLabelOutSerializer(many=True)},
        summary="Current clean labels, in merchant order",
    )
    def get(self, request: Request) -> Response:
        query = CleanLabelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        queryset = CleanLabel.objects.filter(**query.validated_data).values(*CLEAN_LABEL_COLUMNS)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(CleanLabelOutSerializer(page, many=True).data)
