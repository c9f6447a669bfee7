"""The terminal viewer: Textual app, widgets, screens and styles (network only through `client`)."""
