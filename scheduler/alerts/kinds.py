"""Channel kinds: one class per kind of channel, registered by its URL schemes.

A kind says which schemes it sends (`schemes`), how long a message may be
(`limit`), which parts of its URL hold secrets (`secret_parts`, redacted from
logs and stored errors), and how to send (`send`). Defining a subclass registers
it; the dispatcher (channels.send) looks the URL's scheme up in `KINDS`:

    class Pager(ChannelKind):
        schemes = ("pager",)
        limit = Limit(160, "chars")
        secret_parts = ("password", "host")

        def send(self, message: Message) -> None:
            ...  # self.url is the expanded URL

A kind with `fallback = True` claims, through `claims`, schemes it does not list
(the generic Apprise kind takes every other Apprise service that way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from talentwatch.scheduler.alerts.render import Message

# scheme -> kind; filled by ChannelKind.__init_subclass__
KINDS: dict[str, type[ChannelKind]] = {}
_FALLBACKS: list[type[ChannelKind]] = []

# the URL parts a kind can name as secret (urllib.parse.urlsplit's names)
SecretPart = Literal["username", "password", "hostname", "path"]


@dataclass(frozen=True)
class Limit:
    """A service's largest message: `size` UTF-8 bytes or characters."""

    size: int
    unit: Literal["bytes", "chars"] = "bytes"

    def measure(self, text: str) -> int:
        return len(text.encode()) if self.unit == "bytes" else len(text)

    def fit(self, text: str) -> str:
        """`text` cut to fit, at the last whole entry (a blank line) that fits, else at a line
        boundary, saying so; unchanged when it fits."""
        if self.measure(text) <= self.size:
            return text
        note = "\n\n…（超出长度限制，余见邮件或网页）"
        budget = self.size - self.measure(note)
        out: list[str] = []
        used = 0
        for line in text.splitlines(keepends=True):
            size = self.measure(line)
            if used + size > budget:
                break
            out.append(line)
            used += size
        blanks = [i for i, line in enumerate(out) if not line.strip()]
        if len(blanks) > 1:  # keep whole entries: drop a half-written one
            out = out[:blanks[-1]]
        return "".join(out).rstrip("\n") + note


class ChannelKind:
    """One kind of channel. Subclasses register themselves by their `schemes`."""

    schemes: ClassVar[tuple[str, ...]] = ()
    limit: ClassVar[Limit | None] = None  # None: the service takes any length we send
    # URL parts that hold secrets; query values named secret/token/key/pass(word) always do
    secret_parts: ClassVar[tuple[SecretPart, ...]] = ("password",)
    fallback: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for scheme in cls.schemes:
            KINDS[scheme.lower()] = cls
        if cls.fallback:
            _FALLBACKS.append(cls)

    def __init__(self, url: str) -> None:
        self.url = url  # expanded: never log or store it

    @classmethod
    def claims(cls, scheme: str) -> bool:
        """Whether this kind sends `scheme` URLs without listing the scheme (fallbacks)."""
        return False

    def fit(self, text: str) -> str:
        return self.limit.fit(text) if self.limit else text

    def send(self, message: Message) -> None:
        """Deliver `message`; raise DeliveryError (a failed send) or ChannelError (bad URL)."""
        raise NotImplementedError


def kind_for(scheme: str) -> type[ChannelKind] | None:
    """The kind registered for `scheme`, else a fallback that claims it, else None."""
    scheme = scheme.lower()
    if scheme in KINDS:
        return KINDS[scheme]
    return next((kind for kind in _FALLBACKS if kind.claims(scheme)), None)
