"""Channels: Apprise URLs from config, secrets from the environment, one kind per scheme.

A channel is written in config as an Apprise URL in which `${VAR}` is replaced
from the environment when a message is sent. The expanded URL is never logged
or stored: the outbox and the logs know a channel only by its `label`
(scheme and a hash of the unexpanded text), error messages are redacted, and
while a channel sends, every log record loses that channel's secrets (the
command line also keeps apprise, urllib3 and requests at WARNING).

Which kind sends a URL is looked up by its scheme in the registry of channel
kinds (kinds.py); the kinds register themselves when their modules are imported
below: mail.Email, webhook.JsonWebhook, chatbots.DingTalk/WeComBot/Feishu, and
apprise_any.AppriseService for every other Apprise service.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

# imported for their kinds, which register themselves on definition
from talentwatch.scheduler.alerts import apprise_any, chatbots, mail, webhook  # noqa: F401
from talentwatch.scheduler.alerts.errors import ChannelError, DeliveryError
from talentwatch.scheduler.alerts.kinds import ChannelKind, kind_for
from talentwatch.scheduler.alerts.render import Message
from talentwatch.scheduler.alerts.sanitize import safe_message

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class Channel:
    template: str  # as written in config, ${VAR} unexpanded

    @property
    def scheme(self) -> str:
        """The scheme as written, or "env" when the whole URL comes from a variable."""
        head = self.template.split("://", 1)[0]
        return head.lower() if "://" in self.template and "${" not in head else "env"

    @property
    def label(self) -> str:
        digest = hashlib.sha256(self.template.encode()).hexdigest()[:10]
        return f"{self.scheme}#{digest}"

    def url(self) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ChannelError(f"channel {self.label}: environment variable {name} is not set")
            return os.environ[name]

        return _VAR.sub(value, self.template)

    def secrets(self) -> list[str]:
        """Strings that must never appear in a log line or stored error."""
        found = [os.environ[n] for n in _VAR.findall(self.template) if os.environ.get(n)]
        try:
            parts = urlsplit(self.url())
        except (ChannelError, ValueError):
            return found
        kind = kind_for(parts.scheme) or ChannelKind  # an unknown scheme: the usual places
        for name in kind.secret_parts:
            value = getattr(parts, name)
            if value:
                found += [value, unquote(value)]
        found += [v for k, v in re.findall(r"(secret|token|key|pass(?:word)?)=([^&]+)", parts.query)]
        return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "****")
        return text


class _Redact(logging.Filter):
    """Takes secrets out of every record a handler emits."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = text
        for secret in self.secrets:
            clean = clean.replace(secret, "****")
        if clean != text:
            record.msg, record.args = clean, None
        return True


@contextmanager
def redacting(channel: Channel) -> Iterator[None]:
    """While sending: no log line, from any library, shows the channel's secrets."""
    secrets = channel.secrets()
    if not secrets:
        yield
        return
    guard = _Redact(secrets)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(guard)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(guard)


def kind_of(channel: Channel, url: str) -> type[ChannelKind]:
    """The registered kind for the expanded `url`; ChannelError naming the channel if none."""
    scheme = _SCHEME.match(url.strip())
    if not scheme:
        raise ChannelError(f"channel {channel.label}: not a URL (expected scheme://…)")
    kind = kind_for(scheme.group(1))
    if kind is None:
        raise ChannelError(f"channel {channel.label}: no channel kind sends {scheme.group(1).lower()}:// URLs"
                           " (not one of ours, and not an Apprise service)")
    return kind


def send(channel: Channel, message: Message) -> None:
    """Send `message` through `channel`; raises DeliveryError (redacted; PermanentError when
    retrying cannot help) or ChannelError. Every kind gets the message made safe: one-line
    subject, no control characters, only http(s) URLs in the payload."""
    url = channel.url()
    message = safe_message(message)
    try:
        with redacting(channel):
            kind_of(channel, url)(url).send(message)
    except DeliveryError as exc:
        raise type(exc)(channel.redact(str(exc))) from None
    except ChannelError as exc:
        raise ChannelError(channel.redact(str(exc))) from None
    except Exception as exc:  # any library error: keep the reason, drop the secrets
        raise DeliveryError(channel.redact(f"{type(exc).__name__}: {exc}")) from None
