"""The queue's HTTP API: intake of flags, claim, label, and the label feed. Each method
parses, calls one service, serialises."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors, services
from labeling.models import Label
from supportability.api.errors import conflict_response, invalid_response
from supportability.api.pagination import IdCursorPagination
from supportability.api.permissions import RoleOrScope
from supportability.models import ApiToken
from supportability.roles import LABELLERS, Role

from .serializers import (
    ClaimInSerializer,
    ClaimOutSerializer,
    FlagBatchSerializer,
    IntakeResultSerializer,
    LabelInSerializer,
    LabelOutSerializer,
    LeaseInSerializer,
    LeaseOutSerializer,
    claim_payload,
    label_payload,
)

CONFLICT = OpenApiResponse(description="You do not hold a live lease on this item.")


def invalid(exc: services.InvalidInput) -> Response:
    return invalid_response(exc)


def conflict(exc: services.Conflict) -> Response:
    return conflict_response(str(exc))


class FlagsView(APIView):
    permission_classes = (IsAuthenticated, RoleOrScope)
    required_roles = (Role.ADMIN,)
    required_scope = ApiToken.Scope.FLAGS_WRITE

    @extend_schema(
        request=FlagBatchSerializer,
        responses={200: IntakeResultSerializer},
        summary="Push model-flagged merchants (bulk, idempotent)",
    )
    def post(self, request: Request) -> Response:
        batch = FlagBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        try:
            result = services.flags_ingest(rows=batch.validated_data, actor=request.user)
        except services.InvalidInput as exc:
            return invalid(exc)
        return Response(IntakeResultSerializer(result).data)


class ClaimView(APIView):
    permission_classes = (IsAuthenticated, RoleOrScope)
    required_roles = LABELLERS
    required_scope = ApiToken.Scope.QUEUE_WORK

    @extend_schema(
        request=ClaimInSerializer,
        responses={
            200: ClaimOutSerializer,
            204: OpenApiResponse(description="Queue empty."),
            409: OpenApiResponse(
                description="You hold a lead's item (an adjudication, sign-off or audit)."
            ),
        },
        summary="Claim (lease) the next item, from any queue open to you or the one named",
    )
    def post(self, request: Request) -> Response:
        form = ClaimInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            lease = services.item_claim(user=request.user, queue=form.validated_data.get("queue"))
        except services.Conflict as exc:
            return conflict(exc)
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(claim_payload(selectors.lease_for_review(lease_id=lease.pk)))


class ItemLabelsView(APIView):
    permission_classes = (IsAuthenticated, RoleOrScope)
    required_roles = LABELLERS
    required_scope = ApiToken.Scope.QUEUE_WORK

    @extend_schema(
        request=LabelInSerializer,
        responses={201: LabelOutSerializer, 200: LabelOutSerializer, 409: CONFLICT},
        summary="Label an item you hold (idempotent on idempotency_key)",
    )
    def post(self, request: Request, item_id: int) -> Response:
        form = LabelInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = services.LabelInput(
            decision=form.validated_data["decision"],
            category_slug=form.validated_data["category"],
            rationale=form.validated_data["rationale"],
            idempotency_key=form.validated_data["idempotency_key"],
        )
        try:
            label, created = services.label_submit(
                user=request.user,
                item_id=item_id,
                lease_token=form.validated_data["lease"],
                data=data,
            )
        except services.InvalidInput as exc:
            return invalid(exc)
        except services.Conflict as exc:
            return conflict(exc)
        return Response(
            label_payload(label),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class LeaseView(APIView):
    """Shared by heartbeat and release: both act on the caller's live lease."""

    permission_classes = (IsAuthenticated, RoleOrScope)
    required_roles = LABELLERS
    required_scope = ApiToken.Scope.QUEUE_WORK


class HeartbeatView(LeaseView):
    @extend_schema(
        request=LeaseInSerializer,
        responses={200: LeaseOutSerializer, 409: CONFLICT},
        summary="Extend your lease on an item",
    )
    def post(self, request: Request, item_id: int) -> Response:
        form = LeaseInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            lease = services.lease_heartbeat(
                user=request.user, item_id=item_id, lease_token=form.validated_data["lease"]
            )
        except services.Conflict as exc:
            return conflict(exc)
        return Response(LeaseOutSerializer(lease).data)


class ReleaseView(LeaseView):
    @extend_schema(
        request=LeaseInSerializer,
        responses={204: OpenApiResponse(description="Back in the queue."), 409: CONFLICT},
        summary="Give an item back (skip)",
    )
    def post(self, request: Request, item_id: int) -> Response:
        form = LeaseInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            services.lease_release(
                user=request.user, item_id=item_id, lease_token=form.validated_data["lease"]
            )
        except services.Conflict as exc:
            return conflict(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelCursor(IdCursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1_000


# A generic view for its paginator: the schema then documents the page (next, previous,
# results) and its cursor, as the view answers.
class LabelListView(GenericAPIView[Label]):
    permission_classes = (IsAuthenticated, RoleOrScope)
    required_roles = (Role.LEAD,)
    required_scope = ApiToken.Scope.LABELS_READ
    pagination_class = LabelCursor

    @extend_schema(responses={200: LabelOutSerializer(many=True)}, summary="Labels, newest first")
    def get(self, request: Request) -> Response:
        queryset = Label.objects.select_related("analyst", "category", "merchant", "policy_version")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(LabelOutSerializer(page, many=True).data)
