"""The Studio's web server: a socket on 127.0.0.1 only, uvicorn on a worker thread, the address with its token.

The port: the one asked for (default :data:`DEFAULT_PORT`) when it is free, else the next free one of the following
few, else one the system picks; :attr:`StudioServer.port_note` says when it is not the one asked for (a second Studio,
or another program, on that port). The socket is bound here, before uvicorn starts, so the port printed is the port
served and no other program can take it in between.
"""

from __future__ import annotations

import errno
import logging
import platform
import socket
import threading
import time

from vcam_emoji.errors import EmojiCamError

from .security import Guard, new_token
from .state import StudioState

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # never another interface: the Studio is for this computer only
DEFAULT_PORT = 8437
PORT_TRIES = 10
START_TIMEOUT_S = 15.0


class StudioError(EmojiCamError):
    """The Studio's server cannot start."""


def bind_socket(port: int, tries: int = PORT_TRIES) -> tuple[socket.socket, int, str]:
    """A listening socket on 127.0.0.1: ``port``, else the next free of ``tries`` ports, else any free port.
    Returns (socket, its port, a note saying why it is not ``port``, or "")."""
    if not 0 <= port <= 65535:
        raise StudioError(f"--port {port}: expected 0..65535 (0 = any free port)")
    candidates = [port] if port == 0 else [p for p in range(port, min(port + tries, 65536))] + [0]
    busy = []
    for candidate in candidates:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if platform.system() != "Windows":  # on Windows SO_REUSEADDR would let two servers share the port
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, candidate))
            sock.listen(64)
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, getattr(errno, "WSAEADDRINUSE", -1)):
                busy.append(candidate)
                continue
            raise StudioError(f"cannot listen on {HOST}:{candidate}: {exc.strerror or exc}") from None
        got = sock.getsockname()[1]
        note = ""
        if busy:
            note = (f"port {busy[0]} is in use (another Studio, or another program), so this Studio uses port {got}"
                    if len(busy) == 1 else
                    f"ports {busy[0]}-{busy[-1]} are in use (other Studios, or other programs), so this Studio uses "
                    f"port {got}")
        return sock, got, note
    raise StudioError(f"no free port on {HOST} (tried {', '.join(map(str, busy))})")


class StudioServer:
    """Serves the Studio for one engine until :meth:`stop`."""

    def __init__(self, state: StudioState, *, port: int = DEFAULT_PORT, token: str | None = None) -> None:
        self.state = state
        self.requested_port = port
        self.token = token or new_token()
        self.port = 0
        self.port_note = ""
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def guard(self) -> Guard:
        return Guard(self.token, self.port)

    @property
    def url(self) -> str:
        """The address to open, with the token (http://127.0.0.1:PORT/?token=...)."""
        return self.guard.url("/")

    def start(self) -> str:
        """Bind, start serving on a worker thread, wait until it answers; returns :attr:`url`."""
        import uvicorn

        from .web import create_app

        sock, self.port, self.port_note = bind_socket(self.requested_port)
        app = create_app(self.state, self.guard)
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=2, server_header=False)
        self._server = uvicorn.Server(config)
        failed: list[BaseException] = []

        def serve() -> None:
            try:
                self._server.run(sockets=[sock])
            except BaseException as exc:  # reported to start(); the thread must not die silently
                failed.append(exc)
                log.exception("the Studio server stopped")
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name="studio-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if failed or not self._thread.is_alive():
                raise StudioError(f"the Studio server did not start: {failed[0] if failed else 'it stopped'}")
            if time.monotonic() > deadline:
                raise StudioError(f"the Studio server did not start within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.02)
        log.info("Studio at http://%s:%d/", HOST, self.port)
        return self.url

    def stop(self, timeout: float = 5.0) -> None:
        """End the live streams, stop serving and wait for the thread (idempotent)."""
        if self._server is None:
            return
        self.state.hub.close()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the Studio server did not stop within %.0f s", timeout)
        self._server = None
