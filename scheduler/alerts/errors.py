"""The alert senders' exceptions, in a module of their own so every sender can import them."""

from __future__ import annotations


class ChannelError(Exception):
    """A channel that cannot be used as configured (missing variable, bad URL)."""


class DeliveryError(Exception):
    """A send that failed; the message is safe to log (no secrets)."""


def last_line(log_text: str) -> str:
    """The last message of an Apprise log capture, without its time and level prefix."""
    lines = [line.split(" - ", 2)[-1] for line in log_text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
