"""QA audits: drawing single labels at adaptive rates, and the lead's verdict."""

from __future__ import annotations

import pytest

from review import services
from review.models import QaAudit
from review.qa_sampling import Record, audit_rate
from review.services import qa
from supportability.models import AuditEvent
from tests.factories import ReviewItemFactory, label_through_services

pytestmark = pytest.mark.django_db

RATES = {"base": 0.10, "floor": 0.02, "cap": 0.50}


def test_a_newcomer_is_audited_at_the_base_rate():
    assert audit_rate(Record(), **RATES) == pytest.approx(0.10)


def test_errors_raise_the_rate_and_a_clean_record_lowers_it_to_the_floor():
    weak = audit_rate(Record(gold_answered=20, gold_wrong=6), **RATES)
    strong = audit_rate(Record(gold_answered=200, gold_wrong=0, audited=50), **RATES)
    assert weak > 0.10 > strong
    assert strong == pytest.approx(0.02)  # bounded by the floor: everyone is sampled
    assert audit_rate(Record(audited=100, overturned=90), **RATES) == pytest.approx(0.50)


def test_more_errors_never_lower_the_rate():
    rates = [audit_rate(Record(gold_answered=40, gold_wrong=k), **RATES) for k in range(41)]
    assert rates == sorted(rates)


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError):
        audit_rate(Record(), base=0.1, floor=0.2, cap=0.5)


def single_labels(analyst, n, decision="supportable", category="none"):
    items = [ReviewItemFactory(priority=1.0 - i / 1000) for i in range(n)]
    return [label_through_services(analyst, item, decision, category) for item in items]


@pytest.fixture
def always_audit(lead):
    services.review_settings_update(
        actor=lead, audit_rate=1.0, audit_floor=1.0, audit_cap=1.0, four_eyes=[]
    )


def test_every_single_label_is_drawn_once_with_its_rate(analyst, lead):
    services.review_settings_update(
        actor=lead, audit_rate=0.3, audit_floor=0.3, audit_cap=0.3, four_eyes=[]
    )
    single_labels(analyst, 40)
    qa.chance.seed(7)
    drawn = services.qa_audits_draw()
    assert QaAudit.objects.count() == 40
    assert set(QaAudit.objects.values_list("rate", flat=True)) == {0.3}
    assert QaAudit.objects.filter(status="pending").count() == drawn
    assert 0 < drawn < 40
    assert AuditEvent.objects.filter(verb="qa_audit.draw").count() == drawn
    assert services.qa_audits_draw() == 0  # drawn once


def test_escalated_and_multi_labelled_items_are_not_drawn(make_user, always_audit):
    from tests.factories import escalated_item

    ann, bob = make_user("analyst"), make_user("analyst")
    escalated_item([ann, bob], [("restricted", "gambling"), ("supportable", "none")])
    escalated_item([ann], [("unsure", "none")])
    assert services.qa_audits_draw() == 0


def audit_next(lead, *, agree, decision="", category=""):
    lease = services.lead_claim(user=lead, work=services.Work.AUDIT)
    assert lease is not None
    return services.qa_audit_record(
        user=lead,
        item_id=lease.item_id,
        lease_token=lease.token,
        agree=agree,
        rationale="checked the site",
        decision=decision,
        category_slug=category,
    )


def test_the_audit_rate_follows_overturns_and_agreements(make_user, lead, always_audit):
    careless, careful = make_user("analyst", username="careless"), make_user("analyst")
    single_labels(careless, 6)
    single_labels(careful, 6)
    services.qa_audits_draw()
    for _ in range(12):
        audit = QaAudit.objects.filter(status="pending").order_by("id").first()
        wrong = audit.analyst == careless
        lease = services.lead_claim(user=lead, work=services.Work.AUDIT)
        services.qa_audit_record(
            user=lead,
            item_id=lease.item_id,
            lease_token=lease.token,
            agree=not wrong,
            rationale="checked",
            decision="prohibited" if wrong else "",
            category_slug="drugs" if wrong else "",
        )
    services.review_settings_update(
        actor=lead, audit_rate=0.1, audit_floor=0.02, audit_cap=0.5, four_eyes=[]
    )
    rates = qa.analyst_audit_rates([careless.pk, careful.pk])
    assert rates[careless.pk] > 0.1 > rates[careful.pk]


def test_an_overturn_records_the_leads_answer(analyst, lead, always_audit):
    single_labels(analyst, 1)
    services.qa_audits_draw()
    audit = audit_next(lead, agree=False, decision="prohibited", category="drugs")
    assert audit.status == QaAudit.Status.OVERTURNED
    assert (audit.decision, audit.category.slug) == ("prohibited", "drugs")
    event = AuditEvent.objects.get(verb="qa_audit.overturn")
    assert event.before["category"] == "none" and event.after["category"] == "drugs"


def test_an_overturn_that_changes_nothing_is_refused(analyst, lead, always_audit):
    single_labels(analyst, 1)
    services.qa_audits_draw()
    with pytest.raises(services.InvalidInput) as exc:
        audit_next(lead, agree=False, decision="supportable", category="none")
    assert exc.value.field == "decision"
    assert QaAudit.objects.get().status == QaAudit.Status.PENDING


def test_a_lead_is_never_given_their_own_label_to_audit(make_user, always_audit):
    lead = make_user("lead", username="lead-labeller")
    single_labels(lead, 1)
    services.qa_audits_draw()
    assert services.lead_claim(user=lead, work=services.Work.AUDIT) is None
    assert services.lead_claim(user=make_user("lead"), work=services.Work.AUDIT) is not None


def test_a_lead_cannot_audit_their_own_label_even_holding_a_lease(make_user, always_audit):
    from labeling.models import Lease

    lead = make_user("lead", username="lead-labeller")
    (label,) = single_labels(lead, 1)
    services.qa_audits_draw()
    item = label.item
    lease = Lease.objects.create(
        item_id=item.pk,
        holder=lead,
        claimed_at=label.created_at,
        expires_at=label.created_at + services.lead_work.lease_ttl(),
    )
    with pytest.raises(services.NotAllowed):
        services.qa_audit_record(
            user=lead, item_id=item.pk, lease_token=lease.token, agree=True, rationale="fine"
        )
    assert QaAudit.objects.get().status == QaAudit.Status.PENDING


def test_the_overturn_rate_weights_each_audit_by_its_inverse_rate(make_user):
    from review.services.quality import _overturn_estimates

    analyst, lead = make_user("analyst"), make_user("lead")
    labels = single_labels(analyst, 3)
    # Two audits drawn at 10% agreed, one drawn at 50% (after errors) overturned.
    for label, rate, status in zip(
        labels, [0.1, 0.1, 0.5], ["agreed", "agreed", "overturned"], strict=True
    ):
        QaAudit.objects.create(
            label=label,
            item=label.item,
            merchant=label.merchant,
            analyst=analyst,
            rate=rate,
            status=status,
            lead=lead,
            category=label.category if status == "overturned" else None,
        )
    # Raw share 1/3; weighted (1/0.5) / (1/0.1 + 1/0.1 + 1/0.5) = 2 / 22.
    assert _overturn_estimates({analyst.pk})[analyst.pk] == pytest.approx(2 / 22)
