"""The demo's seeded review history gives the lead something to do on the first run."""

from __future__ import annotations

import pytest

from labeling.models import ReviewItem
from review.demo.seeding import demo_seed
from review.models import AgreementStat, AnalystQuality, CleanLabel, QaAudit
from supportability.models import AuditEvent, AuditVerification

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
    # The trail is sealed and verified as the demo opens.
    assert not AuditEvent.objects.filter(seq__isnull=True).exclude(verb="audit.verified").exists()
    assert AuditVerification.objects.get().intact
