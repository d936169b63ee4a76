"""Production: SECRET_KEY, DATABASE_URL and CELERY_BROKER_URL come from the environment."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import env_bool

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
