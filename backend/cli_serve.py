"""`animatediff-studio serve`: the local service on 127.0.0.1:7865 (`--port 0` picks a free port).

The port actually bound is written with the process id to `server.json` in the data directory; the
client reads it (with the token file) to attach to a running service instead of starting another.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from pathlib import Path

DEFAULT_PORT = 7865
SERVER_INFO_FILE = "server.json"


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the local generation service",
                       description="Run the local generation service used by the Blender add-on and the desktop app.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}); 0 picks a free one, written to server.json in the data dir")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow binding a non-loopback address and any Host header (the token is still required)")
    p.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best available)")
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    p.set_defaults(func=run_serve)


def server_info_path(data_dir: Path) -> Path:
    return data_dir / SERVER_INFO_FILE


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if os.name != "nt":  # on Windows SO_REUSEADDR would let two services share the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(128)  # listening before server.json is written: early clients wait in the backlog
    return sock


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from backend.server.app import Settings, create_app
    from backend.server.instance_lock import AlreadyRunning, acquire_instance_lock
    from backend.server.security import is_loopback_bind, load_or_create_token, token_path
    from models.errors import InvalidInputError
    from models.paths import data_dir

    if not is_loopback_bind(args.host) and not args.allow_remote:
        raise InvalidInputError(f"--host: {args.host!r} is not a loopback address; serving other machines needs "
                                "--allow-remote (they will still need the token)", field="host")
    root = data_dir()
    root.mkdir(parents=True, exist_ok=True)
    try:
        lock = acquire_instance_lock(root)  # noqa: F841 - held until the process ends
    except AlreadyRunning:
        running = _read_info(server_info_path(root))
        raise InvalidInputError(
            f"data folder: {root} is already served by another running service ({running.get('url', 'starting')}, "
            f"pid {running.get('pid', '?')}); attach to it, or give this one its own ANIMATEDIFF_STUDIO_DATA_DIR",
            field="data_dir") from None
    token = load_or_create_token()
    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        raise InvalidInputError(f"--port: cannot listen on {args.host}:{args.port} ({exc}); is another service "
                                "running there? Use --port 0 for a free port", field="port") from exc
    port = sock.getsockname()[1]
    info_path = server_info_path(root)
    info = {"host": args.host, "port": port, "pid": os.getpid(), "url": f"http://{_url_host(args.host)}:{port}"}
    tmp = info_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(info_path)  # atomic: a client never reads half a file
    print(f"AnimateDiff Studio service on {info['url']} (token in {token_path()})", flush=True)

    app = create_app(Settings(data_dir=root, token=token, allow_remote=args.allow_remote, device=args.device))
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, timeout_graceful_shutdown=3))
    try:
        server.run(sockets=[sock])
    finally:
        _remove_own_info(info_path)
    return 0


def _url_host(host: str) -> str:
    host = host.strip("[]")
    return f"[{host}]" if ":" in host else host


def _read_info(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _remove_own_info(path: Path) -> None:
    """Only our own: a newer service may have replaced the file meanwhile."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass

