"""DingTalk, WeCom group bot and Feishu bot: a small sender that reads the reply.

These services answer HTTP 200 even when they reject a message (bad signature,
rate limit, keyword not matched) and put the verdict in `errcode` (DingTalk,
WeCom) or `code` (Feishu); Apprise's plugins treat any 200 as success, so we
post ourselves and check. URLs are the Apprise ones:

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
from typing import Any
from urllib.parse import quote_plus

import requests
from apprise.plugins.base import NotifyBase
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.wecombot import NotifyWeComBot
from talentwatch.scheduler.alerts.errors import ChannelError, DeliveryError
from talentwatch.scheduler.alerts.render import Message

TIMEOUT = 15
# replies are limited in size; DingTalk markdown ~20000 bytes, WeCom markdown 4096
LIMITS = {"dingtalk": 18000, "wecombot": 4000, "feishu": 18000}
ENDPOINTS = {
    "dingtalk": "https://oapi.dingtalk.com/robot/send",
    "wecombot": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/",
}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")), URL-quoted."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def fit(text: str, limit: int) -> str:
    """Cut a message to `limit` UTF-8 bytes at a line boundary, saying so."""
    if len(text.encode()) <= limit:
        return text
    note = "\n\n…（内容过长，其余见邮件或归档）"
    budget = limit - len(note.encode())
    out, used = [], 0
    for line in text.splitlines(keepends=True):
        size = len(line.encode())
        if used + size > budget:
            break
        out.append(line)
        used += size
    return "".join(out) + note


def request_for(url: str, message: Message) -> tuple[str, dict[str, Any]]:
    """(POST address, JSON body) for a bot URL."""
    scheme = url.split("://", 1)[0].lower()
    plugins: dict[str, type[NotifyBase]] = {
        "dingtalk": NotifyDingTalk, "wecombot": NotifyWeComBot, "feishu": NotifyFeishu}
    plugin = plugins[scheme]
    args = plugin.parse_url(url)
    if not args:
        raise ChannelError(f"not a valid {scheme}:// URL")
    endpoint = args["qsd"].get("endpoint") or ENDPOINTS[scheme]
    if scheme == "dingtalk":
        text = fit(message.markdown, LIMITS[scheme])
        address = f"{endpoint}?access_token={quote_plus(args['token'])}"
        if args.get("secret"):
            stamp = int(time.time() * 1000)
            address += f"&timestamp={stamp}&sign={dingtalk_sign(args['secret'], stamp)}"
        return address, {"msgtype": "markdown", "markdown": {"title": message.subject[:64], "text": text}}
    if scheme == "wecombot":
        text = fit(message.markdown, LIMITS[scheme])
        return f"{endpoint}?key={quote_plus(args['key'])}", {"msgtype": "markdown",
                                                             "markdown": {"content": text}}
    text = fit(message.text, LIMITS[scheme])  # Feishu: plain text, no markup at all
    return endpoint.rstrip("/") + "/" + args["token"], {"msg_type": "text", "content": {"text": text}}


def send(url: str, message: Message) -> None:
    address, body = request_for(url, message)
    scheme = url.split("://", 1)[0].lower()
    try:
        reply = requests.post(address, json=body, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise DeliveryError(f"{scheme}: {type(exc).__name__}") from None
    if reply.status_code != 200:
        raise DeliveryError(f"{scheme}: HTTP {reply.status_code}")
    try:
        verdict = reply.json()
    except ValueError:
        raise DeliveryError(f"{scheme}: reply is not JSON") from None
    if not isinstance(verdict, dict):
        raise DeliveryError(f"{scheme}: unexpected reply")
    # success is an explicit 0; a reply without a verdict is not trusted
    code = verdict.get("errcode", verdict.get("code", verdict.get("StatusCode")))
    if code != 0:
        detail = verdict.get("errmsg") or verdict.get("msg") or verdict.get("StatusMessage") or ""
        raise DeliveryError(f"{scheme}: rejected with code {code}: {detail}"[:300])
