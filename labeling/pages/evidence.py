"""The evidence side of the review screen: what the merchant says and does, what the model
saw, the policy that applies, and what was decided before."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from supportability.mcc import MccName, mcc_name
from supportability.ml.explanation import term_is_filler, term_label
from supportability.models import PolicyCategory, PolicyVersion
from supportability.services.similarity import similar_decisions
from supportability.validation import explanation_read

from .. import selectors
from ..models import Lease, ReviewItem
from ..signals import review_screen_extras
from .header import SlaState, sla_state
from .highlight import Segment, highlight, terms_in
from .population import population_table
from .signals import SignalsPanel, signals_panel


@dataclass(frozen=True)
class ModelTerm:
    term: str  # as the model stored it
    label: str  # in words ("country IR" for the tag country_ir)
    weight: float
    rank: int  # its number on the highlights in the text
    found_in: str  # where the text shows it, or why it does not


@dataclass(frozen=True)
class Evidence:
    mcc: MccName
    website_href: str  # "" when the address is not http(s): shown as text, not linked
    description: list[Segment]
    website_text: list[Segment]
    terms: list[ModelTerm]
    terms_note: str  # why no terms are shown, or what was left out
    signals: SignalsPanel
    sla: SlaState
    policy_version: PolicyVersion | None
    predicted: PolicyCategory | None
    predicted_note: str  # why there is no predicted category to show
    open_items: list[ReviewItem] = field(default_factory=list)


def evidence(*, lease: Lease | None, user: Any) -> dict[str, Any]:
    """Context for labeling/_item.html's evidence panels (empty without a lease): `evidence`,
    `similar` (supportability.services.similarity) and whatever the layers above add
    through labeling.signals.review_screen_extras (the review app: `earlier_decisions`)."""
    if lease is None:
        return {}
    item = lease.item
    merchant = item.merchant
    now = timezone.now()
    score = lease.score if not item.score_hidden else None
    hidden_reason = _model_hidden_reason(lease)
    explanation = explanation_read(score.explanation) if score is not None else None
    if score is not None and explanation is None:
        hidden_reason = "the stored explanation is malformed"
    shown_terms = (
        [t for t in explanation.terms if not term_is_filler(t.term)] if explanation else []
    )
    words = [t.term for t in shown_terms]
    description = highlight(merchant.description, words)
    website_text = highlight(merchant.website_text, words)
    context: dict[str, Any] = {
        "evidence": Evidence(
            mcc=mcc_name(merchant.mcc),
            website_href=_web_address(merchant.url),
            description=description,
            website_text=website_text,
            terms=_terms(shown_terms, merchant.description, merchant.website_text),
            terms_note=_terms_note(explanation, shown_terms, hidden_reason),
            signals=signals_panel(
                merchant=merchant,
                table=population_table(),
                model_signals=explanation.features if explanation else None,
                model_hidden_reason=hidden_reason,
            ),
            sla=sla_state(
                created_at=_waiting_since(lease), sla_minutes=item.queue.sla_minutes, now=now
            ),
            policy_version=selectors.policy_current(),
            predicted=score.predicted_category if score is not None else None,
            predicted_note=_predicted_note(score, hidden_reason),
            open_items=selectors.merchant_open_items(
                merchant_id=merchant.pk, exclude_item_id=item.pk
            ),
        ),
        "similar": similar_decisions(merchant=merchant),
        # For the header's clock: a heartbeat that answers 204 extended the lease this long.
        "lease_seconds": settings.LEASE_SECONDS,
    }
    for _receiver, extra in review_screen_extras.send(sender=Lease, lease=lease, user=user):
        if isinstance(extra, dict):
            context.update(extra)
    return context


def _waiting_since(lease: Lease) -> datetime:
    """A gold item waits in the queue for ever (every analyst labels it once): its age
    would give it away, so it counts from this analyst's claim, as a fresh item would."""
    return lease.claimed_at if lease.item.gold_id is not None else lease.item.queued_at


def _model_hidden_reason(lease: Lease) -> str:
    if lease.item.score_hidden:
        return "the model's view is held back on this item"
    if lease.score is None:
        return "no model score for this merchant"
    return ""


def _web_address(url: str) -> str:
    """The address to link to, only for http(s) with a host (never javascript: or data:)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return ""


def _terms(shown: list[Any], description: str, website_text: str) -> list[ModelTerm]:
    words = [t.term for t in shown]
    in_description, in_website = terms_in(description, words), terms_in(website_text, words)
    terms = []
    for rank, term in enumerate(shown, start=1):
        places = [
            place
            for place, found in (("description", in_description), ("website text", in_website))
            if term.term in found
        ]
        found_in = "in the " + " and ".join(places) if places else _not_in_text(term.term)
        terms.append(ModelTerm(term.term, term_label(term.term), term.weight, rank, found_in))
    return terms


def _not_in_text(term: str) -> str:
    if term.startswith("mcc_"):
        return "from the merchant's MCC"
    if term.startswith("country_"):
        return "from the merchant's country"
    return "not in the text shown (in the merchant's name)"


def _terms_note(explanation: Any, shown: list[Any], hidden_reason: str) -> str:
    if hidden_reason:
        return f"No highlights: {hidden_reason}."
    left_out = len(explanation.terms) - len(shown)
    if not explanation.terms:
        return "No highlights: no word of the merchant's text raised the score."
    if not shown:
        return f"No highlights: the {left_out} words that raised the score are filler (like “for”)."
    if left_out:
        words = "word" if left_out == 1 else "words"
        return f"{left_out} filler {words} (like “for”) left out."
    return ""


def _predicted_note(score: Any, hidden_reason: str) -> str:
    if hidden_reason and score is None:
        return f"No predicted category: {hidden_reason}."
    if score is not None and score.predicted_category is None:
        return "No predicted category: the score is below the policy threshold."
    return ""
