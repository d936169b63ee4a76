"""The Celery worker's consumer, reconnecting to a broker that went away every 2 seconds at
most. Celery's own backs off to 30 s between attempts (kombu's defaults, not configurable),
so after an outage of a few minutes a worker came back up to 30 s after the broker did
(measured: the retraining asked for during a 5-minute outage finished 27-31 s after the
broker's return). A retry every 2 s costs a broker nothing."""

from __future__ import annotations

import functools
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

RECONNECT = {"interval_start": 0.5, "interval_step": 0.5, "interval_max": 2.0}


class Consumer(CeleryConsumer):
    def ensure_connected(self, conn: Any) -> Any:
        conn.ensure_connection = functools.partial(conn.ensure_connection, **RECONNECT)
        try:
            return super().ensure_connected(conn)
        finally:
            del conn.ensure_connection  # the class's method again
