"""The alert senders' exceptions, in a module of their own so every sender can import them."""

from __future__ import annotations


class ChannelError(Exception):
    """A channel that cannot be used as configured (missing variable, bad URL)."""


class DeliveryError(Exception):
    """A send that failed; the message is safe to log (no secrets)."""


class PermanentError(DeliveryError):
    """A send that retrying cannot fix: the message cannot be built, or the receiver refused
    it (an HTTP 4xx other than 408/429). Only this message is
    retried, a few times, then parked as dead; the channel's other messages go on."""


def http_refusal(status: int) -> bool:
    """Whether an HTTP status refuses this request for good (4xx; not 408 timeout or 429 rate limit)."""
    return 400 <= status < 500 and status not in (408, 429)


def last_line(log_text: str) -> str:
    """The last message of an Apprise log capture, without its time and level prefix."""
    lines = [line.split(" - ", 2)[-1] for line in log_text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
