"""Who may talk to the Studio: a browser on this computer that was given this run's token, and nothing else.

The rules, checked on every HTTP request before any route runs (:class:`SecurityMiddleware`):

1. **Host**: the ``Host`` header must be this server (``127.0.0.1:PORT`` or ``localhost:PORT``). A page on another
   site that makes its own name resolve to 127.0.0.1 (DNS rebinding) sends its own name and is refused.
2. **Origin**: a request with an ``Origin`` header from anywhere but this server is refused: another page open in the
   browser cannot read from or post to the Studio. A request that changes something (POST, DELETE, ...) and
   authenticates with the cookie must show that it comes from a Studio page (``Origin``, else ``Referer``, else
   ``Sec-Fetch-Site: same-origin``).
3. **Token**: a random token per run (:func:`new_token`), given as ``Authorization: Bearer TOKEN``, ``?token=TOKEN``
   or the cookie. A page opened with ``?token=`` (the address the tray opens and `vcam-emoji studio` prints) is
   answered with the cookie (HttpOnly, SameSite=Strict, named after the port) and a redirect to the same address
   without the token, so the token does not stay in the address bar, like Jupyter.

Every response also gets headers that keep it from being framed, sniffed or cached, and a content security policy
that allows only this server's own scripts, styles and images (the pages load nothing from the internet).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from html import escape
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                                  b"script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                                  b"form-action 'self'; frame-ancestors 'none'"),
)


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Guard:
    """The rules for one server: its token and the port it listens on (127.0.0.1 only)."""

    token: str
    port: int

    def __post_init__(self) -> None:
        if len(self.token) < 16:
            raise ValueError("token: expected at least 16 characters")

    @property
    def cookie_name(self) -> str:
        return f"emoji_cam_studio_{self.port}"  # cookies ignore ports: a second Studio must not clobber this one's

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts)

    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.token.encode("utf-8"))

    def url(self, path: str = "/") -> str:
        """The address to open: with the token, for the browser to trade for the cookie."""
        return f"http://127.0.0.1:{self.port}{path}?{urlencode({'token': self.token})}"


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers, lower-case names; a repeated header keeps its first value (a second one is refused)."""
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        if name in out and name in ("host", "origin", "authorization"):
            out[name] = "\x00repeated"  # never matches anything: a request with two Hosts or Origins is refused
            continue
        out.setdefault(name, raw_value.decode("latin-1"))
    return out


def _same_origin_referer(referer: str, origins: frozenset[str]) -> bool:
    return any(referer == origin or referer.startswith(origin + "/") for origin in origins)


def check_request(guard: Guard, scope: Scope) -> tuple[Refusal | None, str]:
    """(None, how it authenticated) for an allowed request, else (the refusal, "")."""
    headers = _headers(scope)
    host = headers.get("host", "").lower()
    if host not in guard.hosts:
        return Refusal(403, f"Host {host!r} is not this Studio (it answers only at 127.0.0.1:{guard.port}); "
                            "refused, as a protection against DNS rebinding"), ""
    origin = headers.get("origin")
    if origin is not None and origin.lower() not in guard.origins:
        return Refusal(403, f"requests from other web pages (Origin {origin!r}) are refused; open the Studio "
                            f"at http://127.0.0.1:{guard.port}/"), ""
    given, via = None, ""
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return Refusal(401, "Authorization must be 'Bearer TOKEN'"), ""
        given, via = value.strip(), "bearer"
    if given is None:
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if "token" in query:
            given, via = query["token"], "query"
    if given is None:
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:  # junk in the header: no cookie of ours
            cookie = SimpleCookie()
        morsel = cookie.get(guard.cookie_name)
        if morsel is not None:
            given, via = morsel.value, "cookie"
    if given is None:
        return Refusal(401, "this Studio needs its token: open the address that `vcam-emoji studio` printed, or "
                            "the tray's Open Studio; API clients send 'Authorization: Bearer TOKEN' or ?token="), ""
    if not guard.token_matches(given):
        return Refusal(401, "wrong token: each run of the Studio has a new one; open the address it printed this "
                            "time"), ""
    if scope.get("method", "GET") not in SAFE_METHODS and via == "cookie" and origin is None:
        referer = headers.get("referer")
        if not ((referer is not None and _same_origin_referer(referer, guard.origins))
                or headers.get("sec-fetch-site") == "same-origin"):
            return Refusal(403, "a change that does not come from a Studio page (no Origin or Referer of this "
                                "server) is refused"), ""
    return None, via


class SecurityMiddleware:
    """ASGI middleware that applies :func:`check_request` to every HTTP request and adds the security headers."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan; the Studio has no websockets, and they would be refused below
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        refusal, via = check_request(self.guard, scope)
        path = scope.get("path", "/")
        if refusal is not None:
            log.info("refused %s %s: %s", scope.get("method"), path, refusal.message)
            await _refuse(send, refusal, api=path.startswith("/api/"))
            return
        if via == "query" and not path.startswith("/api/") and scope.get("method") == "GET":
            await self._trade_token_for_cookie(scope, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _trade_token_for_cookie(self, scope: Scope, send: Send) -> None:
        query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                              keep_blank_values=True) if k != "token"]
        location = scope.get("path", "/") + (f"?{urlencode(query)}" if query else "")
        cookie = (f"{self.guard.cookie_name}={self.guard.token}; Path=/; HttpOnly; SameSite=Strict")
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode("latin-1")),
                                (b"content-length", b"0"), (b"cache-control", b"no-store"), *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": b""})


async def _refuse(send: Send, refusal: Refusal, *, api: bool) -> None:
    if api:
        body = json.dumps({"error": refusal.message}).encode("utf-8")
        kind = b"application/json"
    else:
        body = ("<!doctype html><meta charset=utf-8><title>Emoji Cam Studio</title>"
                f"<h1>Emoji Cam Studio</h1><p>{escape(refusal.message)}</p>").encode("utf-8")
        kind = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": refusal.status,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
