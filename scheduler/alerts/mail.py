"""Email: an Apprise mailto:// URL, our own two-part message with a stable Message-ID.

Apprise resolves the URL (provider defaults for qq.com, 163.com …, TLS mode,
login) and carries the SMTP session. We compose the message ourselves because
Apprise always stamps a random Message-ID and derives the text part from the
HTML; we want receivers to be able to drop a re-sent copy by its Message-ID,
and a text part written for text. Every header value is one line (core.safety):
a scraped title with CR/LF cannot break the message; a message that still cannot
be built fails with PermanentError (parked after a few tries, see storage.outbox).

The SMTP server's answer decides what a failure is. A 5xx answer (every recipient
refused, the sender or the message refused, the login rejected) is the same next
time: PermanentError, the message is retried alone and parked with the server's
words. A 4xx answer (mailbox busy, greylisting, try later) and a connection that
fails are temporary: the message stays queued and the channel waits. When the
server takes the message for some recipients and refuses others, it counts as
sent (re-sending would duplicate it for those who got it) and the refused
addresses are logged as a warning.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, localtime

import apprise
from apprise.plugins.email import NotifyEmail
from apprise.plugins.email.smtp import SMTP_EXCEPTIONS, AppriseSMTPController
from talentwatch.core.safety import one_line
from talentwatch.scheduler.alerts.errors import ChannelError, DeliveryError, PermanentError
from talentwatch.scheduler.alerts.kinds import ChannelKind
from talentwatch.scheduler.alerts.render import Message

log = logging.getLogger(__name__)


def message_id_header(message_id: str) -> str:
    return f"<{message_id}@talentwatch>"


def _address(name: str | None, addr: str) -> str:
    return one_line(formataddr((one_line(name) or None, one_line(addr))))


def compose(plugin: NotifyEmail, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = one_line(message.subject)
    # apprise leaves NotifyEmail's from_addr and targets untyped ([name or False, address] pairs)
    mail["From"] = _address(str(plugin.from_addr[0] or "talentwatch"), str(plugin.from_addr[1]))
    mail["To"] = ", ".join(_address(str(name) if name else None, str(addr)) for name, addr in plugin.targets)
    if plugin.cc:
        mail["Cc"] = ", ".join(one_line(addr) for addr in sorted(plugin.cc))
    mail["Message-ID"] = one_line(message_id_header(message.id))
    mail["Date"] = format_datetime(localtime())
    mail["X-Talentwatch-Id"] = one_line(message.id)
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


class Email(ChannelKind):
    """mailto:// and mailtos://: our text + HTML message over Apprise's SMTP session.

    No size limit: the digest is the long form the chat bots point to.
    """

    schemes = ("mailto", "mailtos")
    secret_parts = ("password",)  # the SMTP login's password

    def send(self, message: Message) -> None:
        plugin = apprise.Apprise.instantiate(self.url)
        if not isinstance(plugin, NotifyEmail):
            raise ChannelError("not a valid mailto:// URL")
        if not plugin.targets:
            raise ChannelError("mailto:// URL names no recipient (add ?to=…)")
        try:
            mail = compose(plugin, message)
            data = mail.as_string()
        except Exception as exc:  # the email library's refusal: the same next time
            raise PermanentError(f"message cannot be built: {type(exc).__name__}: {exc}"[:300]) from None
        recipients = [addr for _, addr in plugin.targets] + sorted(plugin.cc) + sorted(plugin.bcc)
        where = f"SMTP {plugin.smtp_host}:{plugin.port}"
        try:
            # apprise's own attribute types (Optional port and mode, which its URL parsing always
            # fills; a float timeout) do not match its controller's signature
            session = _Session(
                host=plugin.smtp_host, port=plugin.port, secure_mode=plugin.secure_mode,  # type: ignore[arg-type]
                user=plugin.user, password=plugin.password, verify_certificate=plugin.verify_certificate,
                socket_connect_timeout=plugin.socket_connect_timeout,  # type: ignore[arg-type]
            )
            with session:  # connects, secures and logs in; quits on the way out
                refused = session.send(str(plugin.from_addr[1]), recipients, data)
        except SMTP_EXCEPTIONS as exc:
            raise smtp_failure(exc, where) from None
        if refused:
            log.warning("%s: sent, but refused for %s", where, _refusals(refused))


class _Session(AppriseSMTPController):
    """Apprise's SMTP session (connection, TLS, login), sending so that the server's answer
    reaches us: Apprise's own sendmail turns every refusal into False."""

    def send(self, sender: str, recipients: list[str], data: str) -> dict[str, tuple[int, bytes]]:
        """The recipients the server refused (all refused, or any other refusal: raises)."""
        session = self._socket  # the smtplib session Apprise opened in __enter__
        if session is None:
            raise smtplib.SMTPServerDisconnected("no SMTP session")
        return session.sendmail(sender, recipients, data)


def _text(answer: bytes | str) -> str:
    return one_line(answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer, 200)


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr}: {code} {_text(answer)}" for addr, (code, answer) in sorted(refused.items()))


def smtp_failure(exc: BaseException, where: str) -> DeliveryError:
    """What an SMTP failure means for the message: PermanentError for a 5xx answer (the
    server will refuse it again), DeliveryError for a 4xx answer or a connection failure."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        error = PermanentError if codes and all(500 <= c < 600 for c in codes) else DeliveryError
        return error(f"{where}: every recipient refused: {_refusals(exc.recipients)}"[:500])
    if isinstance(exc, smtplib.SMTPResponseException):  # sender, data, login, HELO refused
        code = exc.smtp_code
        error = PermanentError if 500 <= code < 600 else DeliveryError
        return error(f"{where}: {type(exc).__name__}: {code} {_text(exc.smtp_error)}"[:500])
    return DeliveryError(f"{where}: {exc}"[:500])
