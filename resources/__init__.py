"""Icons, themes, default configuration and demo assets (data files, no logic)."""
