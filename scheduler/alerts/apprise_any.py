"""Every other Apprise service (Telegram, Slack, ntfy …): plain text, Apprise's idea of success."""

from __future__ import annotations

import apprise
from apprise.manager_plugins import NotificationManager
from talentwatch.scheduler.alerts.errors import ChannelError, DeliveryError, last_line
from talentwatch.scheduler.alerts.kinds import ChannelKind
from talentwatch.scheduler.alerts.render import Message


class AppriseService(ChannelKind):
    """The fallback kind: any scheme Apprise knows that no kind of ours lists."""

    fallback = True
    secret_parts = ("password",)  # which parts are secret differs per service: the common one

    @classmethod
    def claims(cls, scheme: str) -> bool:
        return scheme in NotificationManager()  # a shared singleton: cheap after the first call

    def send(self, message: Message) -> None:
        plugin = apprise.Apprise.instantiate(self.url)
        if plugin is None:
            raise ChannelError("not a URL Apprise understands")
        with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
            ok = plugin.notify(body=message.text, title=message.subject)
        if not ok:
            raise DeliveryError(last_line(captured.getvalue()) or "Apprise reported a failure")
