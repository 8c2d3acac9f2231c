"""demo command (being written)."""
