"""`make run`: the demo on one machine (DEBUG on unless DEBUG=0)."""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: F403
