"""Limits fixed by docs/protocol.md v1 (and the few the page leaves to the implementer, chosen here)."""

MAX_IMAGE_KEY_LENGTH = 2048
MAX_TEXT_LENGTH = 2000
MAX_FRAME_BYTES = 64 * 1024
MAX_SUBSCRIPTIONS = 100
AUTH_FRAME_TIMEOUT = 5.0
KEPT_EVENTS = 1000
BATCH_MAX_EVENTS = 64
GAP_WAIT = 0.5
MAX_IMAGE_BYTES = 25 * 1024 * 1024
MAX_IMAGE_PIXELS = 64_000_000
THUMBNAIL_SIZE = 64
INBOX_PAGE_DEFAULT = 50
INBOX_PAGE_MAX = 100
NOTIFICATIONS_PAGE_DEFAULT = 50
NOTIFICATIONS_PAGE_MAX = 100
EXCERPT_LENGTH = 120
"""Characters of an inbox row's last comment."""
MAX_SEARCH_LENGTH = 200

# Presence (docs/protocol.md, "Presence"), in seconds.
PRESENCE_HEARTBEAT = 3.0
"""How often a viewer that shows its presence sends a frame (a `heartbeat` if nothing else)."""
PRESENCE_TTL = 7.0
"""A connection not heard from for this long leaves the lists of viewers (taken for gone)."""
WRITING_REFRESH = 3.0
"""How often, at most and while typing, a client repeats its `writing` frame."""
WRITING_TTL = 10.0
"""A `writing` not repeated for this long lapses: the user stopped typing."""

# WebSocket close codes.
CLOSE_GOING_AWAY = 1001
CLOSE_SERVICE_RESTART = 1012
"""The server is restarting (SIGTERM): reconnect at once, to another process if there are several."""
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013
CLOSE_UNAUTHENTICATED = 4401
