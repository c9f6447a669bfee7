"""The Image Chat server: ASGI app, storage, pub/sub fan-out and admin CLI."""
