"""Agreement and analyst quality: kappa, alpha and AC1 per pair and per category, gold
accuracy, overturn rate, throughput and time per item; plotted, and exportable as CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from supportability.access import HtmxHttpRequest, role_required
from supportability.csv_cells import csv_row
from supportability.roles import Role
from supportability.services.request_audit import Requested, export_record, request_facts

from .. import selectors, services
from ..pages.charts import bar_chart

COEFFICIENTS = ("kappa", "alpha", "ac1")


@require_GET
@role_required(Role.LEAD)
def agreement(request: HtmxHttpRequest) -> HttpResponse:
    page = selectors.quality_latest()
    by_category = bar_chart(
        [(s.category.name, [s.kappa, s.alpha, s.ac1]) for s in page.categories if s.category],
        COEFFICIENTS,
    )
    by_analyst = bar_chart(
        [(q.analyst.get_username(), [q.gold_accuracy, q.overturn_rate]) for q in page.analysts],
        ("gold accuracy", "overturn rate"),
    )
    return render(
        request,
        "review/agreement.html",
        {"page": page, "by_category": by_category, "by_analyst": by_analyst},
    )


# A lead's click recomputes at most this often; the beat does it every 15 minutes anyway.
RECOMPUTE_EVERY = timedelta(minutes=1)


@require_POST
@role_required(Role.LEAD)
def recompute(request: HtmxHttpRequest) -> HttpResponse:
    latest = selectors.quality_latest().run
    if latest is not None and timezone.now() - latest.computed_at < RECOMPUTE_EVERY:
        messages.info(request, "Just computed: the figures below are current.")
    else:
        services.quality_recompute_request(actor=request.user)
        messages.info(request, "Recomputing: the figures refresh when the worker is done.")
    return redirect("review:agreement")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _number(value: float | None) -> Decimal | None:
    """Six places, kept a number: csv_row leaves numbers alone, so a negative kappa stays
    -0.250000 rather than being taken for a formula."""
    return None if value is None else Decimal(f"{value:.6f}")


def _rows(page: selectors.QualityPage) -> Iterator[list[Any]]:
    """The export's rows; usernames and slugs are typed by people, and the writer passes
    every row through csv_row so a spreadsheet never runs one."""
    yield ["kind", "analyst_a", "analyst_b", "category", "items", "observed", "kappa", "alpha",
           "ac1", "labels", "gold_answered", "gold_accuracy", "audited", "overturn_rate",
           "throughput_per_hour", "median_seconds", "audit_rate"]  # fmt: skip
    stats = ([page.overall] if page.overall else []) + page.pairs + page.categories
    for s in stats:
        yield [
            s.scope,
            s.analyst_a.get_username() if s.analyst_a else "",
            s.analyst_b.get_username() if s.analyst_b else "",
            s.category.slug if s.category else "",
            s.items,
            *(_number(v) for v in (s.observed, s.kappa, s.alpha, s.ac1)),
            *[""] * 7,
        ]
    for q in page.analysts:
        yield [
            "analyst", q.analyst.get_username(), "", "", "", "", "", "", "", q.labels,
            q.gold_answered, _number(q.gold_accuracy), q.audited,
            _number(q.overturn_rate), _number(q.throughput), _number(q.median_seconds),
            _number(q.audit_rate),
        ]  # fmt: skip


@require_GET
@role_required(Role.LEAD)
def agreement_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    page = selectors.quality_latest()
    export_record(
        actor=request.user,
        verb="export.agreement",
        target=page.run or Requested.of("review.qualityrun", "none"),
        fmt="csv",
        source=request_facts(request),
    )
    writer = csv.writer(_Echo())
    lines = (writer.writerow(csv_row(row)) for row in _rows(page))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = page.run.computed_at.strftime("%Y%m%dT%H%M") if page.run else "empty"
    response["Content-Disposition"] = f'attachment; filename="agreement-{stamp}.csv"'
    return response
