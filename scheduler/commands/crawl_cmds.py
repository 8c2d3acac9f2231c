"""crawl command (being written)."""
