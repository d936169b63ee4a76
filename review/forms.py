from __future__ import annotations

from typing import Any, cast

from django import forms

from labeling.models import BanditReward
from labeling.strategies import STRATEGIES
from supportability.form_fields import FiniteFloatField
from supportability.models import Decision

# The SLA target is entered in a unit the lead picks and stored in minutes.
SLA_UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}


class QueueSettingsForm(forms.Form):
    paused = forms.BooleanField(required=False)
    overlap_share = FiniteFloatField(min_value=0, max_value=1)
    overlap_k = forms.IntegerField(min_value=2, max_value=5)
    gold_rate = FiniteFloatField(min_value=0, max_value=0.5)
    # Optional: a form without it leaves the SLA as it is.
    sla = FiniteFloatField(required=False, min_value=0, label="SLA target")
    sla_unit = forms.ChoiceField(choices=[(u, u) for u in SLA_UNITS], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("sla") is not None and not data.get("sla_unit"):
            self.add_error("sla_unit", "Minutes, hours or days.")
        return data

    def settings(self) -> dict[str, Any]:
        """The cleaned form as queue settings (the SLA in whole minutes)."""
        data = self.cleaned_data
        out = {k: data[k] for k in ("paused", "overlap_share", "overlap_k", "gold_rate")}
        if data.get("sla") is not None:
            out["sla_minutes"] = round(data["sla"] * SLA_UNITS[data["sla_unit"]])
        return out


class QueueMixForm(forms.Form):
    """The active-learning levers of a queue; the shares are percentages of a round."""

    draw_capacity = forms.IntegerField(min_value=0, max_value=10_000)
    share_risk = FiniteFloatField(min_value=0, max_value=100)
    share_uncertainty = FiniteFloatField(min_value=0, max_value=100)
    share_diversity = FiniteFloatField(min_value=0, max_value=100)
    share_audit = FiniteFloatField(min_value=0, max_value=100)
    bandit = forms.BooleanField(required=False)
    bandit_reward = forms.ChoiceField(choices=BanditReward.choices)
    audit_floor = FiniteFloatField(min_value=0, max_value=50)  # percent
    hide_score_share = FiniteFloatField(min_value=0, max_value=100)  # percent
    rereview_share = FiniteFloatField(min_value=0, max_value=50)  # percent

    def settings(self) -> dict[str, Any]:
        """The cleaned form as queue settings (shares and rates as fractions)."""
        data = self.cleaned_data
        return {
            "draw_capacity": data["draw_capacity"],
            "mix": {s: data[f"share_{s}"] / 100 for s in STRATEGIES},
            "bandit": data["bandit"],
            "bandit_reward": data["bandit_reward"],
            "audit_floor": data["audit_floor"] / 100,
            "hide_score_share": data["hide_score_share"] / 100,
            "rereview_share": data["rereview_share"] / 100,
        }


class GoldForm(forms.Form):
    external_id = forms.CharField(max_length=64, label="Merchant external id")
    decision = forms.ChoiceField(choices=[c for c in Decision.choices if c[0] != "unsure"])
    category = forms.SlugField(max_length=64)
    rationale = forms.CharField(max_length=5_000, widget=forms.Textarea(attrs={"rows": 2}))
    queue = forms.SlugField(max_length=64, required=False)


FINAL_CHOICES = [c for c in Decision.choices if c[0] != "unsure"]


class ClaimForm(forms.Form):
    work = forms.ChoiceField(
        choices=[("adjudicate", "adjudicate"), ("signoff", "signoff"), ("audit", "audit")]
    )


class AdjudicationForm(forms.Form):
    lease = forms.UUIDField()
    decision = forms.ChoiceField(choices=FINAL_CHOICES)
    category = forms.SlugField(max_length=64)
    rationale = forms.CharField(max_length=5_000, strip=True)
    upheld_label = forms.IntegerField(required=False, min_value=1)
    not_for_training = forms.BooleanField(required=False)
    training_note = forms.CharField(max_length=5_000, required=False)


class SignoffForm(forms.Form):
    lease = forms.UUIDField()
    verdict = forms.ChoiceField(choices=[("approve", "approve"), ("refuse", "refuse")])
    note = forms.CharField(max_length=5_000, required=False)


class AuditForm(forms.Form):
    lease = forms.UUIDField()
    verdict = forms.ChoiceField(choices=[("agree", "agree"), ("overturn", "overturn")])
    decision = forms.ChoiceField(choices=[("", ""), *FINAL_CHOICES], required=False)
    category = forms.SlugField(max_length=64, required=False)
    rationale = forms.CharField(max_length=5_000)


class ReopenForm(forms.Form):
    reason = forms.CharField(max_length=5_000)


class ReviewSettingsForm(forms.Form):
    audit_rate = FiniteFloatField(min_value=0, max_value=1)
    audit_floor = FiniteFloatField(min_value=0, max_value=1)
    audit_cap = FiniteFloatField(min_value=0, max_value=1)
    four_eyes = forms.MultipleChoiceField(choices=(), required=False)
    retrain_min_new_labels = forms.IntegerField(min_value=1, required=False)
    retrain_min_agreement = FiniteFloatField(min_value=-1, max_value=1, required=False)

    def __init__(self, *args: Any, categories: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.MultipleChoiceField, self.fields["four_eyes"])
        field.choices = categories
