"""The demo's seeded review history gives the lead something to do on the first run."""

from __future__ import annotations

import pytest

from labeling.models import ReviewItem
from review.demo.seeding import demo_seed
from review.models import AgreementStat, AnalystQuality, CleanLabel, QaAudit
from supportability.audit import chain_verify

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_disagreements_audits_and_agreement():
    demo_seed(merchants=800, seed=5)
    assert ReviewItem.objects.filter(status=ReviewItem.Status.ESCALATED).exists()
    assert QaAudit.objects.filter(status=QaAudit.Status.PENDING).exists()
    assert QaAudit.objects.filter(status__in=["agreed", "overturned"]).exists()
    assert AgreementStat.objects.filter(scope="overall", items__gt=0).exists()
    assert AnalystQuality.objects.filter(analyst__username="sim.hasty").exists()
    assert CleanLabel.objects.filter(source="estimate").exists()
    assert CleanLabel.objects.filter(source="adjudication").exists()
    assert chain_verify().intact
