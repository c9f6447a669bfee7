"""Modal screens: compose, confirm, help."""
