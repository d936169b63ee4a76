"""The access matrix: the status every URL pattern answers, per role and method.

Each request of the matrix is made by the object's owner where the route names an object
(the analyst's own lease, the lead's own escalation), with an empty body: so a 400 there
means "allowed in, the form was refused", and the ownership itself is held by the IDOR
table below, which posts a valid body for someone else's object.

Values: an HTTP status, or LOGIN (a 302 to the login page, what a browser page answers
anyone without a session: a bearer token never opens a browser page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.access_world import REVOKED, ROLES, TOKEN_ROLES, World

LOGIN = "login"
ADMIN_LOGIN = "admin-login"
Expect = int | str
METHODS = ("GET", "POST", "OPTIONS")
SESSION_ROLES = ("analyst", "lead", "admin")

# Patterns the matrix leaves out, each with its reason (a pattern neither here nor in
# TABLE fails test_every_url_pattern_has_an_entry).
ADMIN_SITE = (
    "Django admin's own views: the admin site checks is_staff itself, and its door "
    "(admin:index) is in the table"
)
SKIPPED_PREFIXES = {
    "admin:": ADMIN_SITE,
    "admin/": ADMIN_SITE + " (its unnamed patterns: object redirects, the catch-all)",
    # Static and media files are served by WhiteNoise's middleware, not by URL patterns:
    # there are none to skip.
}


@dataclass(frozen=True)
class Route:
    expect: dict[str, dict[str, Expect]]  # method -> role -> status
    args: dict[str, str] = field(default_factory=dict)  # url kwarg -> World.ids key
    api: bool = False
    # (method, role) -> reason: the table holds the right status, the app answers another.
    known_bugs: dict[tuple[str, str], str] = field(default_factory=dict)


def _roles(value: Expect | dict[str, Expect], allowed: tuple[str, ...]) -> dict[str, Expect]:
    given = value if isinstance(value, dict) else dict.fromkeys(allowed, value)
    return {role: given[role] for role in allowed}


def page(allowed: tuple[str, ...], *, args: dict[str, str] | None = None, **methods: Any) -> Route:
    """A browser page behind `role_required`: the method check comes first (405 for
    everyone), then the session (LOGIN for anonymous and token callers), then the role."""
    expect: dict[str, dict[str, Expect]] = {}
    for method in ("GET", "POST"):
        if method not in methods:
            expect[method] = dict.fromkeys(ROLES, 405)
            continue
        row: dict[str, Expect] = dict.fromkeys(ROLES, LOGIN)
        row.update(dict.fromkeys(SESSION_ROLES, 403))
        row.update(_roles(methods[method], allowed))
        expect[method] = row
    return Route(expect=expect, args=args or {})


def open_page(**methods: Expect) -> Route:
    """The same answer for everyone."""
    return Route(expect={m: dict.fromkeys(ROLES, s) for m, s in methods.items()})


def api(
    allowed: tuple[str, ...], scope: str, *, args: dict[str, str] | None = None, **methods: Any
) -> Route:
    """A DRF endpoint behind RoleOrScope: authentication and permission come before the
    method (401 without credentials or with a revoked token, 403 without the role or
    scope), then 405 for a method the view lacks; OPTIONS answers whoever may call it."""
    permitted = (*allowed, f"token:{scope}") if scope else allowed
    expect: dict[str, dict[str, Expect]] = {}
    for method in METHODS:
        row: dict[str, Expect] = dict.fromkeys(ROLES, 403)
        row["anonymous"] = row[REVOKED] = 401
        wanted = methods.get(method, 200 if method == "OPTIONS" else 405)
        row.update(_roles(wanted, permitted))
        expect[method] = row
    return Route(expect=expect, args=args or {}, api=True)


LABELLERS = ("analyst", "lead", "admin")
LEADS = ("lead", "admin")
ITEM = {"item_id": "analyst_item"}
LEAD_ITEM = {"item_id": "lead_item"}
# The lead holds an escalation: a second claim from the analyst's queue is refused (one item
# at a time, whichever screen).
CLAIM = {"analyst": 302, "lead": 409, "admin": 302}

TABLE: dict[str, Route] = {
    "home": page(
        ("analyst", "lead", "admin"),
        GET={"analyst": 302, "lead": 302, "admin": 302},
        POST={"analyst": 302, "lead": 302, "admin": 302},
    ),
    "health": open_page(GET=200, POST=200),
    "favicon.ico": open_page(GET=302, POST=302),
    "login": open_page(GET=200, POST=200),
    "logout": open_page(GET=405, POST=302),
    "admin:index": Route(
        expect={
            "GET": {
                **dict.fromkeys(ROLES, ADMIN_LOGIN),
                "admin": 200,
            },
            "POST": {**dict.fromkeys(ROLES, ADMIN_LOGIN), "admin": 200},
        }
    ),
    # The analyst's screens (leads and admins label too).
    "labeling:workbench": page(LABELLERS, GET=200),
    "labeling:claim": page(LABELLERS, POST=CLAIM),
    # An empty form is a valid one: every shortcut off, each key its default.
    "labeling:settings": page(LABELLERS, GET=200, POST=302),
    "labeling:label": page(LABELLERS, args=ITEM, POST=400),
    "labeling:release": page(LABELLERS, args=ITEM, POST=400),
    "labeling:heartbeat": page(LABELLERS, args=ITEM, POST=400),
    # Someone else's label (the escalation's): the undo of one's own is in the IDOR table.
    "labeling:undo": page(LABELLERS, args={"label_id": "label"}, POST=409),
    # The lead's screens.
    "review:dashboard": page(LEADS, GET=200),
    "review:labels": page(LEADS, GET=200),
    "review:retrain": page(LEADS, POST=302),
    "review:run": page(LEADS, args={"run_id": "run"}, GET=200),
    "review:run-retry": page(LEADS, args={"run_id": "run"}, POST=302),
    "review:queues": page(LEADS, GET=200),
    "review:queue-settings": page(LEADS, args={"queue_id": "queue"}, POST=400),
    "review:queue-mix": page(LEADS, args={"queue_id": "queue"}, POST=400),
    # The queue draws nothing (no capacity set): a conflict, not a form error.
    "review:queue-draw": page(LEADS, args={"queue_id": "queue"}, POST=409),
    "review:gold-create": page(LEADS, POST=400),
    "review:audit": page(LEADS, GET=200),
    "review:audit-verify": page(LEADS, POST=302),
    "review:logins": page(LEADS, GET=200, POST=400),
    "review:audit-csv": page(LEADS, GET=200),
    # Analysts see a decided merchant's timeline, blind (the IDOR table holds the rest).
    "review:merchant": page(LABELLERS, args={"merchant_id": "decided_merchant"}, GET=200),
    "review:work": page(LEADS, GET=200),
    "review:claim": page(LEADS, POST=400),
    "review:rules": page(LEADS, POST=400),
    "review:item": page(LEADS, args=LEAD_ITEM, GET={"lead": 200, "admin": 302}),
    "review:adjudicate": page(LEADS, args=LEAD_ITEM, POST={"lead": 400, "admin": 409}),
    "review:signoff": page(LEADS, args=LEAD_ITEM, POST={"lead": 400, "admin": 409}),
    "review:qa-audit": page(LEADS, args=LEAD_ITEM, POST={"lead": 400, "admin": 409}),
    "review:release": page(LEADS, args=LEAD_ITEM, POST={"lead": 302, "admin": 302}),
    "review:heartbeat": page(LEADS, args=LEAD_ITEM, POST={"lead": 204, "admin": 409}),
    "review:reopen": page(LEADS, args={"adjudication_id": "missing"}, POST=400),
    "review:agreement": page(LEADS, GET=200),
    "review:agreement-csv": page(LEADS, GET=200),
    "review:recompute": page(LEADS, POST=302),
    "review:models": page(LEADS, GET=200),
    "review:model": page(LEADS, args={"model_id": "model"}, GET=200),
    # A lead's promotion needs no form: the lead overrides the gate (design: "or wait for
    # a lead").
    "review:model-promote": page(LEADS, args={"model_id": "model"}, POST=302),
    "review:model-reject": page(LEADS, args={"model_id": "model"}, POST=400),
    # The API: session users by role, tokens by scope.
    "api-flags": api(("admin",), "flags:write", POST=400),
    "api-claim": api(
        LABELLERS,
        "queue:work",
        POST={**CLAIM, "analyst": 200, "admin": 200, "token:queue:work": 200},
    ),
    "api-item-labels": api(LABELLERS, "queue:work", args=ITEM, POST=400),
    "api-item-heartbeat": api(LABELLERS, "queue:work", args=ITEM, POST=400),
    "api-item-release": api(LABELLERS, "queue:work", args=ITEM, POST=400),
    "api-labels": api(LEADS, "labels:read", GET=200),
    "api-snapshots": api(LEADS, "labels:read", GET=200, POST=201),
    "api-snapshot": api(LEADS, "labels:read", args={"snapshot_id": "snapshot"}, GET=200),
    "api-snapshot-rows": api(LEADS, "labels:read", args={"snapshot_id": "snapshot"}, GET=200),
    "api-clean-labels": api(LEADS, "labels:read", GET=200),
    # The schema and its docs: a session or a token, never anonymous (issue 14).
    "schema": api(SESSION_ROLES + tuple(TOKEN_ROLES), "", GET=200),
    # The docs page is for people: a session, the login page otherwise (tokens too); it
    # answers GET and HEAD only (OPTIONS through DRF's renderer was a 500).
    "api-docs": Route(
        expect={
            "GET": {**dict.fromkeys(ROLES, LOGIN), **dict.fromkeys(SESSION_ROLES, 200)},
            "POST": dict.fromkeys(ROLES, 405),
            "OPTIONS": dict.fromkeys(ROLES, 405),
        },
    ),
}

assert all(
    role in ROLES for route in TABLE.values() for row in route.expect.values() for role in row
)


# IDOR: a valid request for an object that is someone else's is refused, and leaves the
# owner's object as it was; the owner's same request (the control) goes through.


@dataclass(frozen=True)
class Idor:
    key: str
    actor: str  # a role of ROLES, another World.users key, or "analyst_token"
    args: dict[str, str]
    expect: Expect
    body: Callable[[World], dict[str, Any]] = lambda world: {}
    method: str = "POST"
    api: bool = False
    kept: str = ""  # the World.leases key whose lease must still be live after
    xfail: str = ""  # the reason, where the app answers otherwise (a known bug)


def label_body(owner: str) -> Callable[[World], dict[str, Any]]:
    return lambda world: {
        "lease": str(world.leases[owner].token),
        "decision": "supportable",
        "category": "none",
        "rationale": "fine",
        "idempotency_key": f"mx-{owner}",
    }


def lease_body(owner: str) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"lease": str(world.leases[owner].token)}


def lead_body(**fields: str) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"lease": str(world.leases["lead"].token), **fields}


OTHER = "other_analyst"
OTHERS = {"item_id": "other_analyst_item"}
OWN = {"item_id": "analyst_item"}
ADJUDICATION = lead_body(decision="supportable", category="none", rationale="fine")
SIGNOFF = lead_body(verdict="approve")
QA = lead_body(verdict="agree", rationale="fine")


def missing(kwarg: str) -> dict[str, str]:
    return {kwarg: "missing"}


IDOR: list[Idor] = [
    # The analyst's screens: another analyst's item, with that analyst's lease token.
    Idor("labeling:label", "analyst", OTHERS, 409, label_body(OTHER), kept=OTHER),
    Idor("labeling:label", "analyst", OWN, 302, label_body("analyst")),
    # One's own item with another's lease token: the token must be the caller's.
    Idor("labeling:label", "analyst", OWN, 409, label_body(OTHER), kept=OTHER),
    Idor("labeling:label", "lead", OWN, 409, label_body("analyst"), kept="analyst"),
    Idor("labeling:release", "analyst", OTHERS, 409, lease_body(OTHER), kept=OTHER),
    Idor("labeling:release", "analyst", OWN, 302, lease_body("analyst")),
    Idor("labeling:heartbeat", "analyst", OTHERS, 409, lease_body(OTHER), kept=OTHER),
    Idor("labeling:heartbeat", "analyst", OWN, 204, lease_body("analyst")),
    # Undo of a label that is not there answers as one that is someone else's (no oracle);
    # the undo of another analyst's fresh label is test_undo_of_another_analysts_label_*.
    Idor("labeling:undo", "analyst", missing("label_id"), 409),
    # The queue API: session users and tokens alike.
    Idor("api-item-labels", "analyst", OTHERS, 409, label_body(OTHER), api=True, kept=OTHER),
    Idor("api-item-labels", "analyst", OWN, 201, label_body("analyst"), api=True),
    Idor("api-item-labels", "analyst", OWN, 409, label_body(OTHER), api=True, kept=OTHER),
    Idor(
        "api-item-labels",
        "token:queue:work",
        OWN,
        409,
        label_body("analyst"),
        api=True,
        kept="analyst",
    ),
    Idor("api-item-heartbeat", "analyst", OTHERS, 409, lease_body(OTHER), api=True, kept=OTHER),
    Idor("api-item-heartbeat", "analyst_token", OWN, 200, lease_body("analyst"), api=True),
    Idor(
        "api-item-heartbeat", "analyst_token", OTHERS, 409, lease_body(OTHER), api=True, kept=OTHER
    ),
    Idor("api-item-release", "analyst", OTHERS, 409, lease_body(OTHER), api=True, kept=OTHER),
    Idor(
        "api-item-release",
        "token:queue:work",
        OWN,
        409,
        lease_body("analyst"),
        api=True,
        kept="analyst",
    ),
    Idor("api-item-release", "analyst", OWN, 204, lease_body("analyst"), api=True),
    # The lead's item screens: another lead's escalation, with that lead's lease token.
    Idor("review:item", "other_lead", LEAD_ITEM, 302, method="GET", kept="lead"),
    Idor("review:item", "lead", LEAD_ITEM, 200, method="GET"),
    Idor("review:adjudicate", "other_lead", LEAD_ITEM, 409, ADJUDICATION, kept="lead"),
    Idor("review:adjudicate", "lead", LEAD_ITEM, 302, ADJUDICATION),
    Idor("review:signoff", "other_lead", LEAD_ITEM, 409, SIGNOFF, kept="lead"),
    Idor("review:qa-audit", "other_lead", LEAD_ITEM, 409, QA, kept="lead"),
    Idor("review:release", "other_lead", LEAD_ITEM, 302, kept="lead"),
    Idor("review:release", "lead", LEAD_ITEM, 302),
    Idor("review:heartbeat", "other_lead", LEAD_ITEM, 409, kept="lead"),
    Idor("review:heartbeat", "lead", LEAD_ITEM, 204),
    # A merchant's timeline opens to analysts only for decided merchants without a gold
    # answer; leads see every merchant.
    Idor("review:merchant", "analyst", {"merchant_id": "gold_merchant"}, 404, method="GET"),
    Idor("review:merchant", "analyst", {"merchant_id": "undecided_merchant"}, 404, method="GET"),
    Idor("review:merchant", "lead", {"merchant_id": "undecided_merchant"}, 200, method="GET"),
    # Objects no one owns (runs, queues, models, snapshots are shared by the leads, and no
    # token is tied to a source): the case is an id that is not there.
    Idor("review:run", "lead", missing("run_id"), 404, method="GET"),
    Idor("review:run-retry", "lead", missing("run_id"), 404),
    Idor("review:queue-settings", "lead", missing("queue_id"), 404),
    Idor("review:queue-mix", "lead", missing("queue_id"), 404),
    Idor("review:queue-draw", "lead", missing("queue_id"), 404),
    # The service names the field ("adjudication: No such adjudication"): a 400, as designed.
    Idor(
        "review:reopen",
        "lead",
        missing("adjudication_id"),
        400,
        lambda world: {"reason": "second look"},
    ),
    Idor("review:model", "lead", missing("model_id"), 404, method="GET"),
    Idor("review:model-promote", "lead", missing("model_id"), 404),
    Idor(
        "review:model-reject", "lead", missing("model_id"), 404, lambda world: {"reason": "worse"}
    ),
    Idor("api-snapshot", "token:labels:read", missing("snapshot_id"), 404, method="GET", api=True),
    Idor(
        "api-snapshot-rows",
        "token:labels:read",
        missing("snapshot_id"),
        404,
        method="GET",
        api=True,
    ),
]
