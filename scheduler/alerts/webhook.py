"""JSON webhook through Apprise json:// with our versioned payload.

Apprise posts its envelope (version, title, message, type, attachments); the
payload extras add our fields next to it. See README "Webhook payload".
A receiver that refuses the message (HTTP 4xx but 408/429) fails it with
PermanentError: it is parked after a few tries and holds back no later message.
"""

from __future__ import annotations

import re

import apprise
from apprise.plugins.custom_json import NotifyJSON
from talentwatch.scheduler.alerts.errors import (
    ChannelError,
    DeliveryError,
    PermanentError,
    http_refusal,
    last_line,
)
from talentwatch.scheduler.alerts.kinds import ChannelKind
from talentwatch.scheduler.alerts.render import Message

# Apprise's custom_json logs a non-2xx reply as "Failed to send JSON POST notification: … error=400."
_HTTP_STATUS = re.compile(r"\berror=(\d{3})\b")


class JsonWebhook(ChannelKind):
    """json:// and jsons://: Apprise's envelope plus our payload fields.

    No size limit: the receiver is ours to size; the payload carries every item.
    """

    schemes = ("json", "jsons")
    secret_parts = ("password",)  # basic-auth password; ?token=… values are redacted too

    def send(self, message: Message) -> None:
        args = NotifyJSON.parse_url(self.url)
        if not args:
            raise ChannelError("not a valid json:// URL")
        # the user's own `:key=value` extras stay; ours win on a clash
        args["payload"] = {**(args.get("payload") or {}), **message.payload}
        plugin = NotifyJSON(**args)
        with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
            ok = plugin.notify(body=message.text, title=message.subject)
        if not ok:
            reason = last_line(captured.getvalue()) or "webhook failed"
            status = _HTTP_STATUS.search(reason)
            if status and http_refusal(int(status.group(1))):
                raise PermanentError(reason)
            raise DeliveryError(reason)
