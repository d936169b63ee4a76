"""Audit events in words: one sentence per verb ("analyst ana labelled M-1042 prohibited:
gambling") and the fields it changed as readable changes ("priority 0.31 → 0.72").

Two nets keep secrets and row ids off the page: a deny-list drops any key that names a
lease, token, key, hash or password, and any value that looks like a UUID, wherever it is
(the CSV export goes through the same deny-list); and each verb shows only the fields on
its allow-list, each with a label and a formatter. A verb nobody taught this module is
still a sentence ("system did re_review.odd to …"), with only the common fields shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model

from labeling.models import Queue
from supportability.models import AuditEvent, ModelVersion
from supportability.roles import Role, roles_from

from .audit_fields import (
    COMMON_FIELDS,
    REDACTED,
    UUID,
    FieldChange,
    decided,
    field_changes,
    number,
    plain,
    words,
)


@dataclass(frozen=True)
class AuditLine:
    sentence: str
    changes: tuple[FieldChange, ...]


# Who and what an event is about --------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """The names a page's events mention, fetched once for the page: the actors' roles, the
    model versions and users they refer to by id."""

    roles: Mapping[int, str]  # user id → "analyst", "lead", "admin", "service"
    users: Mapping[int, str]  # user id → username
    models: Mapping[int, str]  # model version id → "name@version"
    queues: Mapping[int, str]  # queue id → its name


ROLE_ORDER = (Role.ADMIN, Role.LEAD, Role.ANALYST, Role.SERVICE)


def names_for(events: Sequence[AuditEvent]) -> Names:
    """At most four queries, each only when needed: the users (actors and analysts named in
    the events) with their groups, and the model versions and queues the events are about."""
    user_ids = {e.actor_id for e in events if e.actor_id}
    for e in events:
        for state in (e.before, e.after):
            if isinstance(state, dict) and isinstance(state.get("analyst"), int):
                user_ids.add(state["analyst"])
    roles: dict[int, str] = {}
    users: dict[int, str] = {}
    if user_ids:
        for user in get_user_model().objects.filter(pk__in=user_ids).prefetch_related("groups"):
            held = roles_from({g.name for g in user.groups.all()}, is_superuser=user.is_superuser)
            roles[user.pk] = next((r.value for r in ROLE_ORDER if r.value in held), "user")
            users[user.pk] = user.get_username()
    model_ids = {
        int(e.object_id)
        for e in events
        if e.object_type == "supportability.modelversion" and e.object_id.isdigit()
    }
    models = {
        pk: f"{name}@{version}"
        for pk, name, version in ModelVersion.objects.filter(pk__in=model_ids).values_list(
            "pk", "name", "version"
        )
    } if model_ids else {}  # fmt: skip
    queue_ids = {
        int(e.object_id)
        for e in events
        if e.object_type == "labeling.queue" and e.object_id.isdigit()
    }
    queues = (
        dict(Queue.objects.filter(pk__in=queue_ids).values_list("pk", "name")) if queue_ids else {}
    )
    return Names(roles, users, models, queues)


NO_NAMES = Names({}, {}, {}, {})


def actor_words(event: AuditEvent, names: Names) -> str:
    """ "analyst ana", "lead lee", or "system" for the app's own work."""
    if event.actor_id is None:
        return event.actor_label or "system"
    role = names.roles.get(event.actor_id)
    return f"{role} {event.actor_label}" if role else event.actor_label


def merchant_words(event: AuditEvent) -> str:
    """The merchant by its external id (its name is the page's to show, escaped)."""
    merchant = getattr(event, "merchant", None) if event.merchant_id else None
    if merchant is None:
        return "a merchant" if event.merchant_id else ""
    return merchant.external_id or merchant.name


def _state(event: AuditEvent) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for state in (event.before, event.after):
        if isinstance(state, dict):
            merged.update(state)
    return merged


def _label_of(state: Mapping[str, Any]) -> str:
    decision = state.get("decision") or ""
    category = state.get("category") or ""
    if not decision:
        return words(category)
    return decided(f"{decision}/{category}") if category else str(decision)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


# Each verb: its sentence (str.format over plain words) and the fields it shows.
VERBS: dict[str, tuple[str, str]] = {
    "label.submit": ("{actor} labelled {merchant} {label}", "status label_count"),
    "login.failed": ("a login as {username} failed", "ip_address failures"),
    "login.lockout": (
        "logins as {username} were locked out for 15 minutes",
        "ip_address failures",
    ),
    "login.refused_locked": ("a login as {username} was refused while locked out", "ip_address"),
    "login.unlock": ("{actor} unlocked logins for {username}", "ip_address failures"),
    "label.undo": ("{actor} took back their label on {merchant} ({label})", "status label_count"),
    "item.enqueue": (
        "{actor} queued {merchant} for review in {queue} ({reason})",
        "priority propensity required_labels score_hidden",
    ),
    "item.reflag": ("{actor} flagged {merchant} again", "priority propensity reason"),
    "item.claim": ("{actor} opened {merchant} to label it", "status"),
    "item.release": ("{actor} skipped {merchant}", "status"),
    "item.return": ("{actor}'s next item, {merchant}, went back to the queue", "status why"),
    "lease.expire": ("{actor} ended a lapsed hold on {merchant}", "status"),
    "lease.heartbeat": ("{actor} kept {merchant} open", ""),
    "lead.claim.adjudicate": ("{actor} opened {merchant} to adjudicate it", ""),
    "lead.claim.signoff": ("{actor} opened {merchant} to sign it off", ""),
    "lead.claim.audit": ("{actor} opened {merchant} to audit a label", ""),
    "lead.release": ("{actor} gave {merchant} back undecided", ""),
    "adjudication.submit": (
        "{actor} adjudicated {merchant}: {label}",
        "labels status item_status for_training",
    ),
    "adjudication.signoff": (
        "{actor} signed off the adjudication of {merchant}: {category}",
        "status item_status note",
    ),
    "adjudication.signoff_refused": (
        "{actor} refused to sign off the adjudication of {merchant}",
        "status item_status note",
    ),
    "adjudication.reopen": (
        "{actor} reopened the adjudication of {merchant} ({label})",
        "status item_status reason",
    ),
    "qa_audit.draw": ("{actor} drew {analyst}'s label on {merchant} for a QA audit", "rate"),
    "qa_audit.agree": ("{actor} agreed with {analyst}'s label on {merchant}: {label}", "status"),
    "qa_audit.overturn": (
        "{actor} overturned {analyst}'s label on {merchant}",
        "status decision category",
    ),
    "gold.create": ("{actor} set the gold answer of {merchant}: {label}", ""),
    "merchant.create": ("{actor} added merchant {merchant}", ""),
    "merchant.update": ("{actor} updated merchant {merchant}", ""),
    "flags.ingest": (
        "{actor} took in flags from a detector",
        "merchants_created merchants_updated scores_created items_enqueued",
    ),
    "queue.update": (
        "{actor} changed the settings of queue {object}",
        "paused overlap_share overlap_k gold_rate capacity mix "
        "bandit bandit_reward audit_floor hide_score_share rereview_share sla_minutes",
    ),
    "queue.draw": (
        "{actor} drew {drawn} merchants into queue {queue} with {model}",
        "shares new_items expected_reviews population",
    ),
    "queue.reprioritise": ("{actor} re-prioritised the queue with {model}", "items"),
    "queue.sla_breach": (
        "{actor} raised items of queue {object} past their SLA",
        "sla_minutes raised priority_boost",
    ),
    "model.register": ("{actor} registered model {model}", ""),
    "model.promote": ("{actor} promoted model {model}", ""),
    "model.promote_requested": ("{actor} asked to promote model {model} over the gate", ""),
    "model.reject": ("{actor} rejected model {model}", "status reason"),
    "model.evaluate": ("{actor} evaluated model {model}", "holdout_rows pr_auc champion_pr_auc"),
    "model.gate": ("{actor} put model {model} through the promotion gate", "passed"),
    "model.score": ("{actor} scored merchants with model {model}", "merchants_scored"),
    "snapshot.create": ("{actor} took label snapshot {object}", "rows"),
    "retrain.start": ("{actor} started retraining #{object}", "status"),
    "retrain.retry": ("{actor} retried retraining #{object}", "status step attempt"),
    "retrain.finish": ("retraining #{object} ended", "status message"),
    "quality.compute": (
        "{actor} computed agreement and analyst quality",
        "multi_labelled agreement_rows analysts",
    ),
    "quality.recompute_request": ("{actor} asked for agreement to be recomputed", ""),
    "clean_labels.refresh": (
        "{actor} refreshed the clean labels",
        "clean_labels by_source re_reviews_settled",
    ),
    "review_settings.update": (
        "{actor} changed the review rules",
        "audit_rate audit_floor audit_cap four_eyes retrain_min_new_labels retrain_min_agreement",
    ),
    "reviewer_settings.update": ("{actor} changed their keyboard settings", "shortcuts_enabled"),
    "user.create": ("{actor} created user {username}", "role"),
    "user.update": ("{actor} updated user {username}", "role"),
    "token.create": ("{actor} created API credential {name}", "scopes"),
    "token.revoke": ("{actor} revoked API credential {name}", ""),
    "token.used": ("{actor} used API credential {name}", "method path ip_address"),
    "token.refused": (
        "a request with API credential {name} was refused ({reason})",
        "method path ip_address",
    ),
    "access.denied": ("{actor} was refused {asked}", "status method path route via"),
    "export.snapshot": (
        "{actor} downloaded label snapshot {object} as {format}",
        "route via filters",
    ),
    "export.audit": ("{actor} downloaded the audit trail as {format}", "filters via"),
    "export.agreement": ("{actor} downloaded the agreement figures as {format}", "via"),
    "audit.verified": (
        "{actor} verified the audit trail: {outcome}",
        "events head_seq checkpoints broken_kind broken_seq",
    ),
    "audit.verification_requested": ("{actor} asked for the audit trail to be verified", ""),
    "data_issues.check": (
        "{actor} checked the stored rows against the rules",
        "found resolved still_open",
    ),
    "similarity_index.build": ("{actor} built the similar-decisions index", "decided_merchants"),
    "demo.seed": ("{actor} seeded the demo", ""),
}  # fmt: skip
# Families: a verb that starts with one of these reads like it.
PREFIXES: dict[str, tuple[str, str]] = {
    "re_review.": (
        "{actor} sent {merchant} back for a fresh analyst ({reason})",
        "status required_labels label",
    ),
}


def _object_words(event: AuditEvent, names: Names) -> str:
    if event.object_type == "labeling.queue" and event.object_id.isdigit():
        return names.queues.get(int(event.object_id), "(a removed queue)")
    return event.object_id


def _asked_words(kwargs: Any) -> str:
    """What a refused request named: {"item_id": 42} → "item 42"."""
    if not isinstance(kwargs, dict) or not kwargs:
        return "an object"
    return ", ".join(f"{words(str(k).removesuffix('_id'))} {plain(v)}" for k, v in kwargs.items())


def audit_line(event: AuditEvent, names: Names = NO_NAMES) -> AuditLine:
    state = _state(event)
    rule: tuple[str, str] | None = VERBS.get(event.verb) or next(
        (each for prefix, each in PREFIXES.items() if event.verb.startswith(prefix)), None
    )
    analyst = state.get("analyst")
    values = _Blank(
        actor=actor_words(event, names),
        merchant=merchant_words(event) or "a merchant",
        # The label a verb is about: the one made (after), or for an undo the one taken
        # back (before).
        label=_label_of(
            event.before
            if event.verb == "label.undo" and isinstance(event.before, dict)
            else event.after
            if isinstance(event.after, dict)
            else state
        ),
        category=words(state.get("category", "")),
        queue=plain(state.get("queue", "")),
        reason=words(state.get("reason", "")),
        analyst=names.users.get(analyst, "an analyst")
        if isinstance(analyst, int)
        else "an analyst",
        model=names.models.get(int(event.object_id), "") if event.object_id.isdigit() else "",
        object=_object_words(event, names),
        drawn=number(state.get("drawn", 0)),
        username=plain(state.get("username", "")),
        name=plain(state.get("name", "")),
        asked=_asked_words(state.get("kwargs")),
        format=plain(state.get("format", "")).upper(),
        outcome="intact" if state.get("intact") is True else "broken",
    )
    if event.verb.startswith("model.") or event.verb.startswith("queue."):
        values["model"] = values["model"] or plain(
            state.get("model") or state.get("champion") or ""
        )
        if event.verb == "model.register" and state.get("name"):
            values["model"] = f"{plain(state['name'])}@{plain(state.get('version', ''))}"
    if rule is None:
        subject = (
            values["merchant"]
            if event.merchant_id
            else f"{words(event.object_type.rpartition('.')[2])} {event.object_id}"
        )
        sentence = f"{values['actor']} did {event.verb} to {subject}"
        fields: Sequence[str] = COMMON_FIELDS
    else:
        sentence = rule[0].format_map(values)
        fields = rule[1].split()
    sentence = UUID.sub(REDACTED, sentence)
    return AuditLine(sentence, field_changes(event.before, event.after, fields))


def audit_lines(events: Iterable[AuditEvent]) -> list[tuple[AuditEvent, AuditLine]]:
    """Each event with its line, the names fetched once for all of them."""
    events = list(events)
    names = names_for(events)
    return [(event, audit_line(event, names)) for event in events]
