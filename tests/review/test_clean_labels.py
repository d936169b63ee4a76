"""Clean labels: the order of authority, the estimate's reliability weighting, and the
snapshots that freeze them."""

from __future__ import annotations

import numpy as np
import pytest

from review import services
from review.models import Adjudication, CleanLabel
from review.services.clean_labels import consensus, snapshot_rows
from supportability.ml.dawid_skene import CrowdEstimate
from supportability.models import LabelSnapshot
from tests.factories import escalated_item

pytestmark = pytest.mark.django_db

OK = "supportable/none"
BET = "restricted/gambling"


def estimate_for(posteriors: dict[int, list[float]]) -> CrowdEstimate:
    return CrowdEstimate(
        classes=(BET, OK),
        priors=np.array([0.2, 0.8]),
        posteriors={m: np.array(p) for m, p in posteriors.items()},
        confusions={},
        iterations=1,
    )


def test_precedence_gold_then_adjudication_then_audit_then_agreement_then_estimate():
    labels = {
        1: [(11, 7, OK)],  # gold says otherwise
        2: [(21, 7, OK), (22, 8, BET)],  # adjudicated
        3: [(31, 7, OK)],  # audited (overturned to BET)
        4: [(41, 7, BET), (42, 8, BET)],  # agreement
        5: [(51, 7, BET)],  # one label: the estimate decides
    }
    rows = consensus(
        labels=labels,
        gold={1: BET},
        adjudicated={2: (BET, False)},
        audited={3: BET},
        estimate=estimate_for({m: [0.3, 0.7] for m in labels} | {4: [0.9, 0.1]}),
    )
    by = {row.merchant_id: row for row in rows}
    assert (by[1].value, by[1].source, by[1].confidence) == (BET, "gold", 1.0)
    assert (by[2].value, by[2].source, by[2].for_training) == (BET, "adjudication", False)
    assert (by[3].value, by[3].source) == (BET, "audit")
    assert (by[4].value, by[4].source) == (BET, "agreement")
    assert by[4].confidence == pytest.approx(0.9)
    # The estimate weighs the analyst's reliability: here it doubts the single BET label.
    assert (by[5].value, by[5].source) == (OK, "estimate")
    assert by[5].confidence == pytest.approx(0.7)
    assert by[2].label_ids == [21, 22]


def test_an_unsure_estimate_is_kept_but_not_for_training():
    rows = consensus(
        labels={9: [(91, 7, BET)]},
        gold={},
        adjudicated={},
        audited={},
        estimate=estimate_for({9: [0.55, 0.45]}),
    )
    assert rows[0].source == "estimate" and rows[0].for_training is False


@pytest.fixture
def pair(make_user):
    return [make_user("analyst", username="ann"), make_user("analyst", username="bob")]


def test_refresh_writes_clean_labels_from_the_database(pair, lead):
    agreed = escalated_item(pair, [("restricted", "gambling"), ("restricted", "gambling")])
    disputed = escalated_item(pair, [("restricted", "gambling"), ("supportable", "none")])
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    services.adjudication_submit(
        user=lead,
        item_id=disputed.pk,
        lease_token=lease.token,
        data=services.Decided("supportable", "none", "a licensed arcade"),
        for_training=False,
        training_note="policy exception",
    )
    assert services.clean_labels_refresh() == 2
    clean = {c.merchant_id: c for c in CleanLabel.objects.select_related("category")}
    assert clean[agreed.merchant_id].source == "agreement"
    assert clean[agreed.merchant_id].category.slug == "gambling"
    assert clean[disputed.merchant_id].source == "adjudication"
    assert clean[disputed.merchant_id].for_training is False
    assert sorted(clean[disputed.merchant_id].label_ids) == sorted(
        disputed.labels.values_list("id", flat=True)
    )
    # Only what may train goes into a snapshot.
    assert [r.merchant_id for r in snapshot_rows()] == [agreed.merchant_id]
    assert Adjudication.objects.get().for_training is False


def test_the_same_clean_labels_give_the_same_snapshot_hash(pair, lead):
    escalated_item(pair, [("restricted", "gambling"), ("restricted", "gambling")])
    services.clean_labels_refresh()
    first = services.snapshot_from_clean_labels(actor=lead)
    services.clean_labels_refresh()
    second = services.snapshot_from_clean_labels(actor=lead)
    assert first.pk != second.pk
    assert first.content_sha256 == second.content_sha256
    assert first.row_count == 1 and first.policy_version is not None
    row = first.rows.get()
    assert (row.source, row.decision, row.category_slug) == ("agreement", "restricted", "gambling")
    assert row.features_ref  # which version of the merchant's features


def test_snapshots_cannot_be_changed(pair, lead):
    escalated_item(pair, [("restricted", "gambling"), ("restricted", "gambling")])
    services.clean_labels_refresh()
    snapshot = services.snapshot_from_clean_labels(actor=lead)
    with pytest.raises(TypeError):
        LabelSnapshot.objects.filter(pk=snapshot.pk).update(row_count=0)
    with pytest.raises(TypeError):
        snapshot.save()
    with pytest.raises(TypeError):
        snapshot.rows.update(weight=2.0)
