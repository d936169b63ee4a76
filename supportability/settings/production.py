"""Production: SECRET_KEY, DATABASE_URL and CELERY_BROKER_URL come from the environment."""

from __future__ import annotations

import os

from .base import *  # noqa: F403
from .base import env_bool

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Sessions and login throttling (issue 14): cookies only over HTTPS, out of scripts' reach,
# not sent on cross-site subrequests. Behind deploy/nginx.conf the client's address is in
# X-Real-IP (nginx overwrites it), so the per-IP lockout counts clients, not the proxy.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    os.environ.get("CLIENT_IP_HEADER", "HTTP_X_REAL_IP"),
    "REMOTE_ADDR",
)
