"""The broker's URL: checked, shown without its password, and asked whether it answers (within seconds).

One Redis serves as broker and result backend. ``redis://[:PASSWORD@]HOST:PORT/DB`` or, with TLS,
``rediss://…`` (certificates checked against the system's CAs unless the URL's own ``ssl_cert_reqs`` /
``ssl_ca_certs`` say otherwise). The password is never printed or logged: every message uses :func:`redact`.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from lib_garment.errors import BadInput, ModelUnavailable

SCHEMES = ("redis", "rediss")
CHECK_TIMEOUT_S = 3.0  # an unreachable broker is named within seconds, never waited on


class BrokerUnavailable(ModelUnavailable):
    """Nothing usable answers at the broker's address (exit 3)."""


@dataclass(frozen=True)
class Broker:
    url: str  # as given, password included: only ever handed to the Redis client, never printed

    @property
    def shown(self) -> str:
        return redact(self.url)

    @property
    def tls(self) -> bool:
        return urllib.parse.urlsplit(self.url).scheme == "rediss"

    def client(self, timeout: float = CHECK_TIMEOUT_S) -> Any:
        """A Redis client with short timeouts (for checks, marks and status; Celery keeps its own)."""
        import redis

        options: dict[str, Any] = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
        if self.tls and "ssl_cert_reqs" not in urllib.parse.urlsplit(self.url).query:
            options["ssl_cert_reqs"] = "required"
        return redis.Redis.from_url(self.url, **options)


def redact(url: str) -> str:
    """``url`` with its password (and a user's name) replaced by ``***``: what messages and logs may show."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port is not None else ""
    return urllib.parse.urlunsplit((parts.scheme, f":***@{host}{port}", parts.path, parts.query, parts.fragment))


def parse_broker(text: str) -> Broker:
    """A ``redis://`` or ``rediss://`` URL with a host, or BadInput (exit 2) saying what is wrong."""
    parts = urllib.parse.urlsplit(text.strip())
    shown = redact(text.strip())
    if parts.scheme not in SCHEMES:
        raise BadInput(f"--broker {shown}: give a Redis URL, redis://HOST:6379/0 (or rediss:// for TLS)")
    try:
        port = parts.port
    except ValueError:
        raise BadInput(f"--broker {shown}: the port is not a number") from None
    if not parts.hostname:
        raise BadInput(f"--broker {shown}: no host name (e.g. redis://127.0.0.1:6379/0)")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise BadInput(f"--broker {shown}: the database is a number (redis://HOST:{port or 6379}/0)")
    return Broker(text.strip())


def check_broker(broker: Broker, timeout: float = CHECK_TIMEOUT_S) -> None:
    """The broker answers a PING within ``timeout`` seconds, or BrokerUnavailable naming it (password hidden)."""
    import redis

    try:
        broker.client(timeout).ping()
    except redis.AuthenticationError:
        raise BrokerUnavailable(f"the broker {broker.shown} refused the password in the URL") from None
    except redis.ResponseError as err:  # e.g. NOAUTH: the server wants a password the URL does not carry
        raise BrokerUnavailable(f"the broker {broker.shown} refused the connection: {_clean(err, broker)}") from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
        raise BrokerUnavailable(
            f"the broker {broker.shown} does not answer within {timeout:g} s ({_clean(err, broker)}): is Redis "
            "running there, and reachable from this machine?"
        ) from None


def _clean(err: BaseException, broker: Broker) -> str:
    """An error's text with the password taken out, should a library have put the URL into it."""
    text = " ".join(str(err).split()) or type(err).__name__
    password = urllib.parse.urlsplit(broker.url).password
    return text.replace(password, "***") if password else text
