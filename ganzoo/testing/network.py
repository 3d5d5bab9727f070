"""Run code with the network switched off (to check a dataset's offline behaviour)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any


class NetworkDisabled(OSError):
    """Raised instead of opening a connection inside :func:`offline`."""


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Make name lookups and socket connections fail with :class:`NetworkDisabled` (an ``OSError``)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkDisabled("network access is disabled by ganzoo.testing.offline()")

    saved = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo)
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo = saved  # type: ignore[method-assign]
