"""Which htmx error answers belong in the page.

An htmx request can get an error answer from many places: our views' own fragments (a form
shown again with its errors and what was typed, a lease-lost notice: 400, 403, 404, 409),
Django's pages (the 403 of a failed CSRF check, DEBUG's technical 500), the request guards'
plain-text 413 and 503 (supportability/middleware.py), a proxy's 502, or nothing at all (a
dropped connection). Only the first kind may replace part of the page. The views mark it
with this header, and static/js/request-errors.js swaps an error answer only when it carries
the mark: anything else leaves the page, the typed text and the heartbeat as they were, and
says beside the form what went wrong. A mark on the response, not a guess from its status or
its body, because a 403 or a 404 may come from either side.
"""

from __future__ import annotations

from django.http import HttpResponse
from django_htmx.http import trigger_client_event

ERROR_FRAGMENT_HEADER = "X-Error-Fragment"
# Told to the page when the server accepted the form (a label, a decision, a skip): the
# browser forgets its draft of that item (static/js/drafts.js).
ITEM_DONE_EVENT = "itemDone"


def error_fragment(response: HttpResponse) -> HttpResponse:
    """Mark an error answer (status 400 and up) as ours, to be swapped into its target."""
    if response.status_code >= 400:
        response[ERROR_FRAGMENT_HEADER] = "swap"
    return response


def item_done(response: HttpResponse) -> HttpResponse:
    return trigger_client_event(response, ITEM_DONE_EVENT)
