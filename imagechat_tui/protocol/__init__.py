"""Wire protocol: message and object models shared by server and client (pure, no I/O)."""
