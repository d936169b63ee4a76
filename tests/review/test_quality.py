"""The periodic agreement and analyst-quality statistics match reference implementations."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from review import services
from review.models import AgreementStat, AnalystQuality
from tests.factories import escalated_item

pytestmark = pytest.mark.django_db

OK = ("supportable", "none")
BET = ("restricted", "gambling")
DRUGS = ("prohibited", "drugs")

# (ann's answer, bob's answer) on eight doubly labelled items; mostly supportable.
PAIRS = [(OK, OK), (OK, OK), (OK, OK), (BET, BET), (BET, OK), (DRUGS, DRUGS), (OK, BET), (OK, OK)]


@pytest.fixture
def labelled(make_user):
    ann, bob = make_user("analyst", username="ann"), make_user("analyst", username="bob")
    for index, (a, b) in enumerate(PAIRS):
        escalated_item([ann, bob], [a, b], priority=1.0 - index / 100)
    return ann, bob


def values(side):
    return ["/".join(pair[side]) for pair in PAIRS]


def test_pair_agreement_matches_scikit_learn_and_krippendorff(labelled):
    run = services.quality_compute()
    ann, bob = labelled
    pair = AgreementStat.objects.get(run=run, scope="pair")
    assert (pair.analyst_a, pair.analyst_b) == (ann, bob)
    assert pair.items == len(PAIRS)
    assert pair.kappa == pytest.approx(cohen_kappa_score(values(0), values(1)), abs=1e-9)
    codes = {v: i for i, v in enumerate(sorted(set(values(0) + values(1))))}
    data = np.array([[codes[v] for v in values(0)], [codes[v] for v in values(1)]], dtype=float)
    expected_alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert pair.alpha == pytest.approx(expected_alpha, abs=1e-9)
    assert pair.observed == pytest.approx(6 / 8)


def test_category_agreement_is_the_binary_question(labelled):
    run = services.quality_compute()
    gambling = AgreementStat.objects.get(run=run, scope="category", category__slug="gambling")
    a = [v.endswith("/gambling") for v in values(0)]
    b = [v.endswith("/gambling") for v in values(1)]
    assert gambling.kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)
    assert gambling.observed == pytest.approx(6 / 8)
    # A category nobody used would agree perfectly on "not this": it gets no row.
    assert not AgreementStat.objects.filter(run=run, category__slug="weapons").exists()


def test_analyst_quality_counts_labels_and_time(labelled):
    run = services.quality_compute()
    rows = {q.analyst.username: q for q in AnalystQuality.objects.filter(run=run)}
    assert rows["ann"].labels == rows["bob"].labels == len(PAIRS)
    assert rows["ann"].median_seconds is not None and rows["ann"].median_seconds >= 0
    assert rows["ann"].gold_accuracy is None  # no gold answered
    # Labelled seconds apart: under 5 minutes of active time, no rate per hour is claimed
    # (tests/review/test_overview.py checks the rate against a hand-made day).
    assert rows["ann"].throughput is None
    assert 0 < rows["ann"].audit_rate <= 1


def test_no_overlap_means_no_agreement_rows(db):
    run = services.quality_compute()
    assert run.label_count == 0
    assert not AgreementStat.objects.filter(run=run).exists()


def test_overall_alpha_uses_every_label_of_an_item(make_user):
    trio = [make_user("analyst", username=n) for n in ("ann", "bob", "cat")]
    answers = [(OK, OK, BET), (BET, BET, BET), (OK, DRUGS, OK), (OK, OK, OK)]
    for index, triple in enumerate(answers):
        escalated_item(trio, list(triple), priority=1.0 - index / 100)
    run = services.quality_compute()
    overall = AgreementStat.objects.get(run=run, scope="overall")
    codes = {"/".join(a): i for i, a in enumerate([OK, BET, DRUGS])}
    data = np.array([[codes["/".join(t[k])] for t in answers] for k in range(3)], dtype=float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert overall.alpha == pytest.approx(expected, abs=1e-9)
    # Kappa compares the first two labels of each item only.
    first = ["/".join(t[0]) for t in answers]
    second = ["/".join(t[1]) for t in answers]
    assert overall.kappa == pytest.approx(cohen_kappa_score(first, second), abs=1e-9)
