"""Run the talentwatch CLI with a controlled resolver: names that change their answer.

    python -m tests.rebinding_cli TABLE_JSON [talentwatch arguments…]

TABLE_JSON maps a host name to the answers it gives, one per lookup, in order (the last
one repeats): {"files.rebind.test": ["127.0.0.1", "127.0.0.2"]} answers 127.0.0.1 to the
first lookup and 127.0.0.2 to every later one, as a DNS server doing "rebinding" would.
Both lookups a Python process can make (getaddrinfo, gethostbyname) count. Other names
resolve as usual. Nothing in talentwatch knows about it: this is the test's DNS.
"""

from __future__ import annotations

import json
import socket
import sys
import threading


def main() -> None:
    table: dict[str, list[str]] = json.loads(sys.argv[1])
    asked: dict[str, int] = {}
    lock = threading.Lock()
    real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname

    def answer(host: object) -> str | None:
        name = host.decode() if isinstance(host, bytes) else str(host)
        name = name.lower().rstrip(".")
        if name not in table:
            return None
        with lock:
            nth = asked.get(name, 0)
            asked[name] = nth + 1
        answers = table[name]
        return answers[min(nth, len(answers) - 1)]

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's names
        address = answer(host) if host is not None else None
        if address is None:
            return real_getaddrinfo(host, port, family, type, proto, flags)
        number = port if isinstance(port, int) else int(port or 0)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, number))]

    def gethostbyname(host):
        return answer(host) or real_gethostbyname(host)

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    from talentwatch.cli import main as talentwatch

    talentwatch(sys.argv[2:], prog_name="talentwatch")


if __name__ == "__main__":
    main()
