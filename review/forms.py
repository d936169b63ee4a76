from __future__ import annotations

from django import forms

from supportability.models import Decision


class QueueSettingsForm(forms.Form):
    paused = forms.BooleanField(required=False)
    overlap_share = forms.FloatField(min_value=0, max_value=1)
    overlap_k = forms.IntegerField(min_value=2, max_value=5)
    gold_rate = forms.FloatField(min_value=0, max_value=0.5)


class GoldForm(forms.Form):
    external_id = forms.CharField(max_length=64, label="Merchant external id")
    decision = forms.ChoiceField(choices=[c for c in Decision.choices if c[0] != "unsure"])
    category = forms.SlugField(max_length=64)
    rationale = forms.CharField(max_length=5_000, widget=forms.Textarea(attrs={"rows": 2}))
    queue = forms.SlugField(max_length=64, required=False)
