"""Who may talk to the service: a bearer token (owner-only file) and a loopback Host header.

The Host check stops DNS rebinding: a web page in the user's browser can resolve its own name to
127.0.0.1, but its requests then carry that foreign name in `Host`, which is refused.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from backend.uploads import MAX_UPLOAD_BYTES
from models.paths import config_dir

TOKEN_FILE_NAME = "token"
LOOPBACK_HOSTS: frozenset[str] = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
PUBLIC_PATHS: frozenset[str] = frozenset({"/v1/health", "/v1/openapi.json"})
MAX_BODY_BYTES = 1 << 20  # a generation request is a few kB; anything near this is a mistake or an attack
UPLOADS_PATH = "/v1/uploads"


def token_path() -> Path:
    return config_dir() / TOKEN_FILE_NAME


def load_or_create_token(path: Path | None = None) -> str:
    """Read the token, or create it with owner-only permissions (0600) on first start."""
    path = path or token_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two services starting at once must not overwrite each other's token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            path.chmod(0o600)  # someone loosened it; a readable token is as good as none
        token = path.read_text().strip()
        if token:
            return token
        path.unlink()
        return load_or_create_token(path)
    with os.fdopen(fd, "w") as f:
        token = secrets.token_urlsafe(32)
        f.write(token)
    return token


def host_name(host_header: str) -> str:
    """`127.0.0.1:7865` -> `127.0.0.1`, `[::1]:7865` -> `[::1]`, `localhost` -> `localhost`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_host(host_header: str) -> bool:
    return host_name(host_header) in LOOPBACK_HOSTS


def is_loopback_bind(host: str) -> bool:
    return host.strip("[]").lower() in {"localhost", "127.0.0.1", "::1"}


ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]


class AccessGuard:
    """ASGI middleware: 421 for a foreign Host (unless remote access was allowed), 401 without the token.

    Plain ASGI rather than a FastAPI dependency so that it also covers unknown routes and streams.
    """

    def __init__(self, app: ASGIApp, *, token: str, allow_remote: bool) -> None:
        self.app = app
        self._token = token.encode()
        self._allow_remote = allow_remote

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self._allow_remote and not is_loopback_host(host):
            await _reject(send, 421, "foreign_host",
                          f"Host: {host!r} is not accepted; this service answers only localhost, 127.0.0.1 or [::1] "
                          "(start it with --allow-remote to serve other names)", "Host", host)
            return
        if scope["path"] not in PUBLIC_PATHS:
            auth = headers.get("authorization", "")
            scheme, _, given = auth.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
                what = "missing" if not auth else "wrong"
                await _reject(send, 401, "unauthorized",
                              f"Authorization: the bearer token is {what}; send 'Authorization: Bearer <token>' with "
                              f"the token stored in {token_path()}", "Authorization", None)
                return
        length = headers.get("content-length", "0")
        limit = MAX_UPLOAD_BYTES if scope["path"] == UPLOADS_PATH else MAX_BODY_BYTES
        if not length.isdigit() or int(length) > limit:
            await _reject(send, 413, "body_too_large", f"Content-Length: {length} is not accepted; bodies of "
                          f"{scope['path']} are limited to {limit} bytes", "Content-Length", length)
            return
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await _reject(send, 411, "length_required", "Transfer-Encoding: chunked bodies are not accepted; send "
                          "Content-Length", "Transfer-Encoding", headers["transfer-encoding"])
            return
        await self.app(scope, receive, send)


async def _reject(send: Callable, status: int, code: str, message: str, field: str, value: Any) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "field": field, "value": value}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
