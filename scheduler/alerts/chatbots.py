"""DingTalk, WeCom group bot and Feishu bot: a small sender that reads the reply.

These services answer HTTP 200 even when they reject a message (bad signature,
rate limit, keyword not matched) and put the verdict in `errcode` (DingTalk,
WeCom) or `code` / `StatusCode` (Feishu); Apprise's plugins treat any 200 as
success, so we post ourselves and check. Only an explicit 0 is success. A
non-zero verdict is a failed send: a rate limit or a busy service (each bot's
`temporary_codes`) leaves the channel's queue waiting and retries it; any other
code (bad token, keyword or signature rejected, IP not allowed, bad message)
refuses the message for good (PermanentError: retried alone, then parked as
dead with the bot's code and message). URLs are the Apprise ones:

    dingtalk://{secret}@{token}/   or  dingtalk://{token}/?secret=…
    wecombot://{key}
    feishu://{token}

`?endpoint=http://…` sends to another address (a proxy, or a test receiver).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any, ClassVar
from urllib.parse import quote_plus

import requests
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.wecombot import NotifyWeComBot
from talentwatch.scheduler.alerts.errors import ChannelError, DeliveryError, PermanentError, http_refusal
from talentwatch.scheduler.alerts.kinds import ChannelKind, Limit
from talentwatch.scheduler.alerts.render import Message

TIMEOUT = 15


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")), URL-quoted."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


class ChatBot(ChannelKind):
    """A bot webhook that answers 200 with a verdict in its JSON reply."""

    # bot tokens sit in the host and user parts of the URL
    secret_parts = ("password", "hostname", "username")
    plugin: ClassVar[Any]  # the Apprise plugin whose URL syntax we read
    endpoint: ClassVar[str]  # the service's address, unless ?endpoint= says otherwise
    # verdicts a later try can get past (rate limits, a busy service); every other
    # non-zero verdict refuses the message for good
    temporary_codes: ClassVar[frozenset[int | str]] = frozenset()

    def arguments(self) -> dict[str, Any]:
        args = self.plugin.parse_url(self.url)
        if not args:
            raise ChannelError(f"not a valid {self.schemes[0]}:// URL")
        return args

    def request(self, message: Message) -> tuple[str, dict[str, Any]]:
        """(POST address, JSON body) for this bot."""
        raise NotImplementedError

    def send(self, message: Message) -> None:
        address, body = self.request(message)
        name = self.schemes[0]
        try:
            reply = requests.post(address, json=body, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise DeliveryError(f"{name}: {type(exc).__name__}") from None
        if reply.status_code != 200:
            error = PermanentError if http_refusal(reply.status_code) else DeliveryError
            raise error(f"{name}: HTTP {reply.status_code}")
        try:
            verdict = reply.json()
        except ValueError:
            raise DeliveryError(f"{name}: reply is not JSON") from None
        if not isinstance(verdict, dict):
            raise DeliveryError(f"{name}: unexpected reply")
        codes = [_code(verdict[key]) for key in VERDICT_KEYS if key in verdict]
        if not codes:  # a reply without a verdict is not trusted (a proxy's page, say)
            raise DeliveryError(f"{name}: reply has no verdict")
        code = next((c for c in codes if c != 0), 0)
        if code == 0:
            return
        detail = next((str(verdict[k]) for k in DETAIL_KEYS if verdict.get(k)), "")
        error = DeliveryError if code in self.temporary_codes else PermanentError
        raise error(f"{name}: rejected with code {code}: {detail}"[:300])


# where the bots put their verdict (0: delivered) and its words
VERDICT_KEYS = ("errcode", "code", "StatusCode")
DETAIL_KEYS = ("errmsg", "msg", "StatusMessage")


def _code(value: Any) -> int | str:
    """A verdict as a number when it is one ("0" and 0 alike)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


class DingTalk(ChatBot):
    """dingtalk://{secret}@{token}/ or dingtalk://{token}/?secret=…: markdown, signed with the secret."""

    schemes = ("dingtalk",)
    limit = Limit(18000)  # markdown text: about 20000 bytes accepted, kept under
    plugin = NotifyDingTalk
    endpoint = "https://oapi.dingtalk.com/robot/send"
    # -1 system busy; 130101 and 410100 sending too fast (20 messages a minute per bot).
    # Refused for good, e.g.: 310000 keyword, signature or IP check failed; 300001 and
    # 400101 no such token; 400102 bot disabled
    temporary_codes = frozenset({-1, 130101, 410100})

    def request(self, message: Message) -> tuple[str, dict[str, Any]]:
        args = self.arguments()
        address = f"{args['qsd'].get('endpoint') or self.endpoint}?access_token={quote_plus(args['token'])}"
        if args.get("secret"):
            stamp = int(time.time() * 1000)
            address += f"&timestamp={stamp}&sign={dingtalk_sign(args['secret'], stamp)}"
        return address, {"msgtype": "markdown", "markdown": {"title": message.subject[:64],
                                                             "text": self.fit(message.markdown)}}


class WeComBot(ChatBot):
    """wecombot://{key}: WeCom group bot, markdown."""

    schemes = ("wecombot",)
    limit = Limit(4000)  # markdown content: at most 4096 bytes
    plugin = NotifyWeComBot
    endpoint = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
    # -1 system busy; 45009 and 45033 call frequency / concurrency limits. Refused for good,
    # e.g.: 93000 invalid webhook key; 40008 bad message type; 40058 bad field; 44004 empty
    temporary_codes = frozenset({-1, 45009, 45033})

    def request(self, message: Message) -> tuple[str, dict[str, Any]]:
        args = self.arguments()
        address = f"{args['qsd'].get('endpoint') or self.endpoint}?key={quote_plus(args['key'])}"
        return address, {"msgtype": "markdown", "markdown": {"content": self.fit(message.markdown)}}


class Feishu(ChatBot):
    """feishu://{token}: Feishu bot, plain text (no markup at all)."""

    schemes = ("feishu",)
    limit = Limit(18000)  # the request body may be about 20 KB
    plugin = NotifyFeishu
    endpoint = "https://open.feishu.cn/open-apis/bot/v2/hook/"
    # 9499 too many requests; 11232 and 11233 sending frequency limited. Refused for good,
    # e.g.: 19001 invalid webhook token; 19021 signature or timestamp; 19022 IP not
    # allowed; 19024 keyword not found
    temporary_codes = frozenset({9499, 11232, 11233})

    def request(self, message: Message) -> tuple[str, dict[str, Any]]:
        args = self.arguments()
        address = (args["qsd"].get("endpoint") or self.endpoint).rstrip("/") + "/" + args["token"]
        return address, {"msg_type": "text", "content": {"text": self.fit(message.text)}}
