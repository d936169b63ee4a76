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

# HTTPS and headers (issue 14; docs/operations.md, "Headers and HTTPS"). TLS ends at the
# reverse proxy, which tells the app the scheme in X-Forwarded-Proto: the proxy MUST set it
# itself and drop any the client sent (deploy/nginx.conf overwrites it), or a client could
# pass plain http off as https. TRUST_X_FORWARDED_PROTO=0 where no proxy stands in front.
if env_bool("TRUST_X_FORWARDED_PROTO", True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# A load balancer's probe may ask over plain http from inside: /healthz answers it.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Browsers keep to https for a year, on subdomains too, once they have seen it. The preload
# directive is consent to browsers' built-in lists (a listing takes a separate submission);
# HSTS_PRELOAD=0 or HSTS_INCLUDE_SUBDOMAINS=0 where the domain's other hosts can't follow.
SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)
# Not no-referrer: a POST then carries "Origin: null" and no Referer, and Django's CSRF check
# over https refuses it. same-origin sends nothing to other sites.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# The audit trail's checkpoints (docs/operations.md, "The audit trail"): production is given
# the signing key (AUDIT_CHECKPOINT_KEY, or AUDIT_CHECKPOINT_KEY_FILE naming a file that
# holds it) and never makes one; `manage.py check` fails without it (supportability.E001).
AUDIT_CHECKPOINT_KEY_CREATE = False
