"""The audit browser (a page, its htmx rows and a CSV export) and a merchant's timeline."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from labeling.fragments import error_fragment
from labeling.models import GoldAnswer
from supportability.access import HtmxHttpRequest, role_required
from supportability.csv_cells import csv_row
from supportability.models import Merchant, PolicyCategory
from supportability.roles import Role, has_role
from supportability.services.request_audit import Requested, export_record, request_facts

from ..models import Adjudication, CleanLabel
from ..pages import audit as browser
from ..pages import timeline
from ..pages.audit_integrity import audit_integrity
from ..pages.timeline_blind import analyst_timeline


class AuditFilterForm(forms.Form):
    actor = forms.CharField(max_length=150, required=False)
    verb = forms.CharField(max_length=64, required=False)
    merchant = forms.CharField(max_length=200, required=False)
    category = forms.ChoiceField(required=False)
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)
    before = forms.IntegerField(required=False, min_value=1)

    def __init__(self, data: Any, *, categories: Sequence[PolicyCategory]) -> None:
        super().__init__(data)
        category = cast(forms.ChoiceField, self.fields["category"])
        category.choices = [("", "any"), *((c.slug, c.name) for c in categories)]
        category.error_messages["invalid_choice"] = "Unknown policy category %(value)s."

    def clean_verb(self) -> str:
        # "label.*" is how people write a family; the filter takes the prefix "label.".
        verb: str = self.cleaned_data["verb"]
        return verb.removesuffix("*")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("date_from"), data.get("date_to")
        if since and until and until < since:
            self.add_error("date_to", "Must be on or after date_from.")
        return data

    def filters(self) -> browser.AuditFilters:
        """The filters, with dates as the bounds of whole days in the site's time zone."""
        data = self.cleaned_data
        since: date | None = data["date_from"]
        until: date | None = data["date_to"]
        return browser.AuditFilters(
            actor=data["actor"],
            verb=data["verb"],
            merchant=data["merchant"],
            category=data["category"],
            since=_day_start(since) if since else None,
            until=_day_start(until + timedelta(days=1)) if until else None,
        )

    def error_list(self) -> dict[str, str]:
        return {
            field: " ".join(str(m) for m in messages) for field, messages in self.errors.items()
        }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


@require_GET
@role_required(Role.LEAD)
def audit_browser(request: HtmxHttpRequest) -> HttpResponse:
    """The page, or only its rows for the htmx filter form and pager (a history restore
    wants the whole page). Bad filters: 400, the errors and no rows."""
    categories = browser.policy_categories()
    if goto := request.GET.get("goto", "").strip():
        return _goto_merchant(request, goto, categories)
    form = AuditFilterForm(request.GET, categories=categories)
    valid = form.is_valid()
    page = (
        browser.audit_page(filters=form.filters(), before=form.cleaned_data["before"])
        if valid
        else None
    )
    return _audit_response(request, form, categories, page=page, status=200 if valid else 400)


def _goto_merchant(
    request: HtmxHttpRequest, external_id: str, categories: Sequence[PolicyCategory]
) -> HttpResponse:
    merchant_id = (
        Merchant.objects.filter(external_id=external_id).values_list("pk", flat=True).first()
    )
    if merchant_id is not None:
        return redirect("review:merchant", merchant_id=merchant_id)
    form = AuditFilterForm(None, categories=categories)
    error = f"No merchant with external id {external_id!r}."
    return _audit_response(request, form, categories, goto=(external_id, error), status=404)


def _audit_response(
    request: HtmxHttpRequest,
    form: AuditFilterForm,
    categories: Sequence[PolicyCategory],
    *,
    page: browser.AuditPage | None = None,
    goto: tuple[str, str] = ("", ""),
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form,
        "errors": form.error_list(),
        "page": page,
        "before": form.cleaned_data["before"] if page else None,
    }
    if request.htmx and not request.htmx.history_restore_request:
        response = error_fragment(
            render(request, "review/_audit_rows.html", context, status=status)
        )
    else:
        context |= {
            "categories": categories,
            "actors": browser.audit_actors(),
            "verbs": browser.audit_verbs(),
            "goto": goto[0],
            "goto_error": goto[1],
            "integrity": audit_integrity(),
        }
        response = render(request, "review/audit.html", context, status=status)
    # The same URL answers with a page or a fragment: caches must tell them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
# role_required's View type says HttpResponse; a streamed response is an HttpResponseBase.
@role_required(Role.LEAD)
def audit_csv(request: HtmxHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Every event matching the filters (pagination aside), oldest first, streamed."""
    form = AuditFilterForm(request.GET, categories=browser.policy_categories())
    if not form.is_valid():
        lines = (f"{field}: {message}" for field, message in form.error_list().items())
        return HttpResponse(
            "\n".join(lines) + "\n", status=400, content_type="text/plain; charset=utf-8"
        )
    asked = {k: str(v) for k, v in form.cleaned_data.items() if v not in (None, "")}
    asked.pop("before", None)  # the page's position, not a filter
    export_record(
        actor=request.user,
        verb="export.audit",
        target=Requested.of("supportability.auditevent", "csv"),
        fmt="csv",
        source=request_facts(request),
        filters=asked,
    )
    rows = browser.audit_export_rows(filters=form.filters())
    response = StreamingHttpResponse(_csv_chunks(rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


class _Echo:
    """A file for csv.writer that hands each written line back."""

    def write(self, value: str) -> str:
        return value


def _csv_chunks(rows: Iterable[Sequence[Any]], *, lines_per_chunk: int = 500) -> Iterator[str]:
    writer = csv.writer(_Echo())
    chunk = [writer.writerow(browser.CSV_COLUMNS)]
    for row in rows:
        chunk.append(writer.writerow(csv_row(row)))
        if len(chunk) >= lines_per_chunk:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)


@require_GET
@role_required(Role.ANALYST, Role.LEAD)
def merchant_timeline(request: HtmxHttpRequest, merchant_id: int) -> HttpResponse:
    """A merchant's history: all of it for leads; for analysts (who come from the similar
    decisions panel) read-only and blind: final outcomes of closed items only."""
    merchant = get_object_or_404(Merchant, pk=merchant_id)
    if has_role(request.user, Role.LEAD):
        context = {
            "merchant": merchant,
            "lead_view": True,
            "chart": timeline.score_chart(timeline.score_points(merchant_id=merchant.pk)),
            "entries": timeline.merchant_timeline(merchant_id=merchant.pk),
            "reopenable": Adjudication.objects.filter(
                merchant=merchant, status=Adjudication.Status.FINAL
            ).select_related("category", "lead"),
        }
    else:
        # The object check: an analyst comes here from a past decision, so only a decided
        # merchant opens, and never one with a gold answer (its open item would show it).
        decided = CleanLabel.objects.filter(merchant=merchant).exists()
        if not decided or GoldAnswer.objects.filter(merchant=merchant).exists():
            raise Http404("No decided merchant with this id.")
        blind = analyst_timeline(merchant_id=merchant.pk)
        chart = (
            timeline.score_chart(timeline.score_points(merchant_id=merchant.pk))
            if blind.scores_shown
            else None
        )
        context = {
            "merchant": merchant,
            "lead_view": False,
            "chart": chart,
            "scores_hidden": not blind.scores_shown,
            "open_items": blind.open_items,
            "entries": blind.entries,
        }
    return render(request, "review/merchant.html", context)
