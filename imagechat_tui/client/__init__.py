"""Client side: REST calls and the live sync engine with reconnect, resync and local state (no UI)."""
