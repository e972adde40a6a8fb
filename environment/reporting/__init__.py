"""Tables and figures of every command (one style module; no backend switch at import)."""
