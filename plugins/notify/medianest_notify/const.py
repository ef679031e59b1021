"""Constants of the notify plugin: its key, its notifiers' ids and the defaults of its settings."""

from __future__ import annotations

from typing import Final

PLUGIN_KEY: Final = "notify"

APPRISE_ID: Final = f"{PLUGIN_KEY}:apprise"
WEBHOOK_ID: Final = f"{PLUGIN_KEY}:webhook"
EMAIL_ID: Final = f"{PLUGIN_KEY}:email"

FLAG_APPRISE: Final = f"{PLUGIN_KEY}.apprise"
FLAG_WEBHOOK: Final = f"{PLUGIN_KEY}.webhook"
FLAG_EMAIL: Final = f"{PLUGIN_KEY}.email"

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
"""Per delivery; core gives every delivery 15 s in all, so a notifier must answer before."""

SIGNATURE_HEADER: Final = "X-MediaNest-Signature"
TIMESTAMP_HEADER: Final = "X-MediaNest-Timestamp"
EVENT_HEADER: Final = "X-MediaNest-Event"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"

USER_AGENT: Final = "MediaNest-Notify/0.1"

MAX_TEMPLATE_CHARS: Final = 16_000
MAX_TEMPLATE_DEPTH: Final = 16
MAX_ADDRESS_CHARS: Final = 20_000
