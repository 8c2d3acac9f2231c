"""Channels: Apprise URLs from config, secrets from the environment, one sender per kind.

A channel is written in config as an Apprise URL in which `${VAR}` is replaced
from the environment when a message is sent. The expanded URL is never logged
or stored: the outbox and the logs know a channel only by its `label`
(scheme and a hash of the unexpanded text), error messages are redacted, and
while a channel sends, every log record loses that channel's secrets (the
command line also keeps apprise, urllib3 and requests at WARNING).
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

import apprise
from talentwatch.scheduler.alerts import chatbots, mail, webhook
from talentwatch.scheduler.alerts.errors import ChannelError, DeliveryError, last_line
from talentwatch.scheduler.alerts.render import Message

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


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
        if parts.password:
            found += [parts.password, unquote(parts.password)]
        if parts.scheme.lower() in CHAT_SCHEMES:
            # bot tokens sit in the host and user parts
            found += [p for p in (parts.hostname, parts.username) if p]
        found += [v for k, v in re.findall(r"(secret|token|key|pass(?:word)?)=([^&]+)", parts.query)]
        return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "****")
        return text


CHAT_SCHEMES = ("dingtalk", "wecombot", "feishu")


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


def send(channel: Channel, message: Message) -> None:
    """Send `message` through `channel`; raises DeliveryError (redacted) or ChannelError."""
    url = channel.url()
    scheme = url.split("://", 1)[0].lower()
    try:
        with redacting(channel):
            if scheme in ("mailto", "mailtos"):
                mail.send(url, message)
            elif scheme in ("json", "jsons"):
                webhook.send(url, message)
            elif scheme in CHAT_SCHEMES:
                chatbots.send(url, message)
            else:
                _send_apprise(url, message)
    except DeliveryError as exc:
        raise DeliveryError(channel.redact(str(exc))) from None
    except ChannelError as exc:
        raise ChannelError(channel.redact(str(exc))) from None
    except Exception as exc:  # any library error: keep the reason, drop the secrets
        raise DeliveryError(channel.redact(f"{type(exc).__name__}: {exc}")) from None


def _send_apprise(url: str, message: Message) -> None:
    """Any other Apprise service: plain text, Apprise's own idea of success."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise ChannelError("not a URL Apprise understands")
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
        ok = plugin.notify(body=message.text, title=message.subject)
    if not ok:
        raise DeliveryError(last_line(captured.getvalue()) or "Apprise reported a failure")
