"""Adjudication services: the lead queue's claims, maker-checker, four eyes, reopening."""

from __future__ import annotations

import pytest

from labeling.models import Lease, ReviewItem
from review import services
from review.models import Adjudication
from supportability.models import AuditEvent
from tests.factories import escalated_item

pytestmark = pytest.mark.django_db

GAMBLING = ("restricted", "gambling")
OK = ("supportable", "none")


@pytest.fixture
def pair(make_user):
    return [make_user("analyst", username="ann"), make_user("analyst", username="bob")]


@pytest.fixture
def disagreement(pair):
    return escalated_item(pair, [GAMBLING, OK])


def decide(lead, item, decision="restricted", category="gambling", **kwargs):
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    assert lease is not None and lease.item_id == item.pk
    return services.adjudication_submit(
        user=lead,
        item_id=item.pk,
        lease_token=lease.token,
        data=services.Decided(decision, category, "site takes sports bets"),
        **kwargs,
    )


def test_disagreeing_labels_escalate_and_an_unsure_escalates(pair, disagreement):
    assert disagreement.status == ReviewItem.Status.ESCALATED
    unsure = escalated_item(pair[:1], [("unsure", "none")])
    assert unsure.status == ReviewItem.Status.ESCALATED


def test_a_lead_adjudicates_and_the_item_is_done(lead, disagreement):
    adjudication = decide(lead, disagreement)
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.DONE
    assert adjudication.status == Adjudication.Status.FINAL
    assert adjudication.category.slug == "gambling"
    assert Lease.objects.get(pk=adjudication.lease_id).outcome == Lease.Outcome.LABELLED
    event = AuditEvent.objects.get(verb="adjudication.submit")
    assert event.after["category"] == "gambling"
    assert event.before["labels"] == ["restricted/gambling", "supportable/none"]


def test_two_leads_never_get_the_same_escalation(make_user, disagreement):
    first = services.lead_claim(user=make_user("lead"), work=services.Work.ADJUDICATE)
    second = services.lead_claim(user=make_user("lead"), work=services.Work.ADJUDICATE)
    assert first is not None and first.item_id == disagreement.pk
    assert second is None


def test_a_lead_who_labelled_the_item_is_not_offered_it(make_user, pair):
    labeller_lead = make_user("lead", username="lead-who-labels")
    item = escalated_item([pair[0], labeller_lead], [GAMBLING, OK])
    assert services.lead_claim(user=labeller_lead, work=services.Work.ADJUDICATE) is None
    assert services.lead_work_counts(labeller_lead)["adjudicate"] == 0
    assert services.lead_claim(user=make_user("lead"), work=services.Work.ADJUDICATE).item_id == (
        item.pk
    )


def test_a_lead_who_labelled_the_item_cannot_adjudicate_it_even_with_a_lease(make_user, pair):
    labeller_lead = make_user("lead", username="lead-who-labels")
    item = escalated_item([pair[0], labeller_lead], [GAMBLING, OK])
    # A lease obtained some other way (e.g. forged form): the service still refuses.
    lease = Lease.objects.create(
        item=item,
        holder=labeller_lead,
        claimed_at=item.updated_at,
        expires_at=item.updated_at + services.lead_work.lease_ttl(),
    )
    with pytest.raises(services.NotAllowed):
        services.adjudication_submit(
            user=labeller_lead,
            item_id=item.pk,
            lease_token=lease.token,
            data=services.Decided("restricted", "gambling", "mine"),
        )
    assert not Adjudication.objects.exists()


def test_an_analyst_cannot_claim_lead_work(pair, disagreement):
    with pytest.raises(services.NotAllowed):
        services.lead_claim(user=pair[0], work=services.Work.ADJUDICATE)


def test_rationale_is_required_and_nothing_is_written_without_it(lead, disagreement):
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    with pytest.raises(services.InvalidInput) as exc:
        services.adjudication_submit(
            user=lead,
            item_id=disagreement.pk,
            lease_token=lease.token,
            data=services.Decided("restricted", "gambling", "  "),
        )
    assert exc.value.field == "rationale"
    assert not Adjudication.objects.exists()
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.ESCALATED


def test_not_for_training_needs_a_reason(lead, disagreement):
    with pytest.raises(services.InvalidInput) as exc:
        decide(lead, disagreement, for_training=False)
    assert exc.value.field == "training_note"
    adjudication = decide(
        lead, disagreement, for_training=False, training_note="policy exception: licensed"
    )
    assert adjudication.for_training is False
    assert adjudication.status == Adjudication.Status.FINAL  # the business decision stands


def test_four_eyes_category_waits_for_a_second_lead(make_user, pair):
    item = escalated_item(pair, [("prohibited", "sanctioned-jurisdictions"), OK])
    first, second = make_user("lead", username="l1"), make_user("lead", username="l2")
    adjudication = decide(first, item, "prohibited", "sanctioned-jurisdictions")
    item.refresh_from_db()
    assert adjudication.status == Adjudication.Status.AWAITING_SIGNOFF
    assert item.status == ReviewItem.Status.SIGNOFF
    # The maker is never offered their own decision to check.
    assert services.lead_claim(user=first, work=services.Work.SIGNOFF) is None
    lease = services.lead_claim(user=second, work=services.Work.SIGNOFF)
    assert lease is not None and lease.item_id == item.pk
    services.adjudication_signoff(
        user=second, item_id=item.pk, lease_token=lease.token, approve=True
    )
    adjudication.refresh_from_db()
    item.refresh_from_db()
    assert adjudication.status == Adjudication.Status.FINAL
    assert adjudication.signoff_by == second
    assert item.status == ReviewItem.Status.DONE


def test_the_maker_cannot_sign_off_their_own_decision(make_user, pair):
    item = escalated_item(pair, [("prohibited", "adult-content"), OK])
    first = make_user("lead", username="l1")
    decide(first, item, "prohibited", "adult-content")
    lease = Lease.objects.create(
        item=item,
        holder=first,
        claimed_at=item.updated_at,
        expires_at=item.updated_at + services.lead_work.lease_ttl(),
    )
    with pytest.raises(services.NotAllowed):
        services.adjudication_signoff(
            user=first, item_id=item.pk, lease_token=lease.token, approve=True
        )
    assert Adjudication.objects.get().status == Adjudication.Status.AWAITING_SIGNOFF


def test_a_refused_signoff_sends_the_item_back_with_the_reason(make_user, pair):
    item = escalated_item(pair, [("prohibited", "adult-content"), OK])
    first, second = make_user("lead", username="l1"), make_user("lead", username="l2")
    decide(first, item, "prohibited", "adult-content")
    lease = services.lead_claim(user=second, work=services.Work.SIGNOFF)
    with pytest.raises(services.InvalidInput):
        services.adjudication_signoff(
            user=second, item_id=item.pk, lease_token=lease.token, approve=False
        )
    services.adjudication_signoff(
        user=second, item_id=item.pk, lease_token=lease.token, approve=False, note="it is art"
    )
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.ESCALATED
    assert Adjudication.objects.get().status == Adjudication.Status.REJECTED
    # Back in the adjudication queue, for any lead, the first one included.
    assert services.lead_claim(user=first, work=services.Work.ADJUDICATE).item_id == item.pk


def test_reopening_keeps_history_and_the_new_decision_supersedes(make_user, lead, disagreement):
    old = decide(lead, disagreement)
    with pytest.raises(services.InvalidInput):
        services.adjudication_reopen(user=lead, adjudication_id=old.pk, reason="")
    services.adjudication_reopen(user=lead, adjudication_id=old.pk, reason="new evidence: licence")
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.ESCALATED
    other = make_user("lead", username="l2")
    new = decide(other, disagreement, "supportable", "none")
    old.refresh_from_db()
    assert old.status == Adjudication.Status.SUPERSEDED
    assert old.reopen_reason == "new evidence: licence"
    assert new.supersedes == old
    assert new.status == Adjudication.Status.FINAL
    assert list(disagreement.adjudications.order_by("id").values_list("status", flat=True)) == [
        "superseded",
        "final",
    ]
    assert [
        e.verb for e in AuditEvent.objects.filter(verb__startswith="adjudication.").order_by("id")
    ] == ["adjudication.submit", "adjudication.reopen", "adjudication.submit"]
    with pytest.raises(services.Conflict):
        services.adjudication_reopen(user=lead, adjudication_id=old.pk, reason="again")


def test_a_lead_holding_an_analyst_item_must_finish_it_first(lead, make_user, pair, disagreement):
    from labeling import services as labeling
    from tests.factories import ReviewItemFactory

    ReviewItemFactory()
    labeling.item_claim(user=lead)
    with pytest.raises(services.Conflict):
        services.lead_claim(user=lead, work=services.Work.ADJUDICATE)


def test_an_analyst_claim_refuses_while_a_lead_holds_lead_work(lead, disagreement):
    from labeling import services as labeling
    from tests.factories import ReviewItemFactory

    ReviewItemFactory()
    services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    with pytest.raises(labeling.Conflict):
        labeling.item_claim(user=lead)


def test_releasing_lead_work_leaves_the_item_escalated(lead, disagreement):
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    services.lead_release(user=lead, item_id=disagreement.pk, lease_token=lease.token)
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.ESCALATED
    assert services.lead_claim(user=lead, work=services.Work.ADJUDICATE).item_id == disagreement.pk


def test_a_lapsed_lead_lease_frees_the_item_without_changing_its_status(
    make_user, lead, disagreement
):
    from datetime import timedelta

    from labeling import services as labeling

    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    assert labeling.leases_expire(now=lease.expires_at + timedelta(seconds=1)) == 1
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.ESCALATED
    other = services.lead_claim(user=make_user("lead"), work=services.Work.ADJUDICATE)
    assert other.item_id == disagreement.pk
