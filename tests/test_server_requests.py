"""Rejections: token, Host header, malformed or out-of-range bodies, traversal; each names its field."""

from __future__ import annotations

import http.client
import json
import os
import stat
import subprocess
import sys
from typing import Any

import pytest
from server_fixtures import REPO, ServiceProcess, session_server, tiny_request


@pytest.fixture(scope="session")
def server() -> ServiceProcess:
    return session_server()


def _raw(server: ServiceProcess, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, token: str | None = "own") -> tuple[int, dict[str, Any]]:
    port = int(server.client.base_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        hdrs["Authorization"] = f"Bearer {server.client._token if token == 'own' else token}"
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, json.loads(raw) if raw else {}


def _assert_still_serving(server: ServiceProcess) -> None:
    assert server.client.health().status == "ok"


@pytest.mark.parametrize("token", [None, "not-the-token", ""])
def test_requests_without_the_right_token_get_401(server: ServiceProcess, token: str | None) -> None:
    status, body = _raw(server, "GET", "/v1/jobs", token=token)
    assert status == 401 and body["error"]["field"] == "Authorization"
    status, _ = _raw(server, "POST", "/v1/jobs", json.dumps(tiny_request()).encode(), token=token)
    assert status == 401
    _assert_still_serving(server)


def test_health_and_openapi_need_no_token(server: ServiceProcess) -> None:
    status, body = _raw(server, "GET", "/v1/health", token=None)
    assert status == 200 and body["status"] == "ok"
    status, spec = _raw(server, "GET", "/v1/openapi.json", token=None)
    assert status == 200 and "/v1/jobs/{job_id}/events" in spec["paths"]
    assert "GenerationRequestBody" in spec["components"]["schemas"]


def test_token_file_is_owner_only(server: ServiceProcess) -> None:
    mode = stat.S_IMODE((server.config_dir / "token").stat().st_mode)
    assert mode == 0o600


@pytest.mark.parametrize("host", ["evil.example.com", "evil.example.com:80", "192.168.1.10", "127.0.0.1.nip.io"])
def test_foreign_host_header_is_refused(server: ServiceProcess, host: str) -> None:
    status, body = _raw(server, "GET", "/v1/jobs", headers={"Host": host})
    assert status == 421 and body["error"]["field"] == "Host"
    _assert_still_serving(server)


@pytest.mark.parametrize("host", ["localhost", "localhost:1234", "127.0.0.1", "[::1]:7865"])
def test_loopback_host_names_are_served(server: ServiceProcess, host: str) -> None:
    status, _ = _raw(server, "GET", "/v1/jobs", headers={"Host": host})
    assert status == 200


BAD_BODIES = [
    (b'{"prompt": "a cat", "base": ', 400, "body"),
    (b"[1, 2]", 422, "body"),
    (tiny_request(width="wide"), 422, "width"),
    (tiny_request(frames=2.5), 422, "frames"),
    (tiny_request(steps="20"), 422, "steps"),
    (tiny_request(prompt=None), 422, "prompt"),
    (tiny_request(width=4096), 422, "width"),
    (tiny_request(height=100), 422, "height"),
    (tiny_request(frames=0), 422, "frames"),
    (tiny_request(steps=100000), 422, "steps"),
    (tiny_request(guidance=-1.0), 422, "guidance"),
    (tiny_request(scheduler="fastest"), 422, "scheduler"),
    (tiny_request(base="no_such_model"), 422, "base"),
    (tiny_request(motion_module="../../etc/passwd"), 422, "motion_module"),
    (tiny_request(loras=[{"path": "missing_lora", "weight": 0.5}]), 422, "loras[0]"),
    (tiny_request(camera=[{"move": "barrel-roll"}]), 422, "camera[0]"),
    (tiny_request(camera=[{"move": "zoom-in", "strength": "strong"}]), 422, "camera[0].strength"),
    (tiny_request(colour="red"), 422, "colour"),
    ({"base": "tiny_base", "motion_module": "tiny_mm"}, 422, "prompt"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_BODIES)
def test_bad_request_bodies_name_the_field(server: ServiceProcess, body: Any, status: int, field: str) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    got, answer = _raw(server, "POST", "/v1/jobs", raw)
    assert got == status, answer
    error = answer["error"]
    assert error["field"] == field
    assert field.split("[")[0] in error["message"]  # the message names the field for a person too
    if isinstance(body, dict) and isinstance(body.get(field), (str, int, float)):
        assert error["value"] == body[field]
    _assert_still_serving(server)


def test_out_of_range_messages_say_what_is_accepted(server: ServiceProcess) -> None:
    _, answer = _raw(server, "POST", "/v1/jobs", json.dumps(tiny_request(frames=5000)).encode())
    assert "5000" in answer["error"]["message"] and "1024" in answer["error"]["message"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "frames/../../../etc/passwd",
                                  "%2Fetc%2Fpasswd", "frames/..%5C..%5Cmetadata.json", "server.json"])
def test_file_names_outside_the_job_folder_are_refused(server: ServiceProcess, name: str) -> None:
    job_id = server.client.submit(tiny_request())
    assert server.client.wait(job_id).status == "succeeded"
    status, answer = _raw(server, "GET", f"/v1/jobs/{job_id}/files/{name}")
    assert status in (400, 404), answer
    assert answer["error"]["field"] == "name"
    _assert_still_serving(server)


def test_oversized_body_is_refused_before_it_is_read(server: ServiceProcess) -> None:
    body = json.dumps(tiny_request(prompt="x" * (2 << 20))).encode()
    status, answer = _raw(server, "POST", "/v1/jobs", body)
    assert status == 413 and answer["error"]["field"] == "Content-Length"
    _assert_still_serving(server)


def test_unknown_job_is_404_naming_the_id(server: ServiceProcess) -> None:
    status, answer = _raw(server, "GET", "/v1/jobs/no-such-job")
    assert status == 404 and answer["error"]["field"] == "id"


def test_non_loopback_bind_needs_allow_remote(tmp_path) -> None:
    env = {**os.environ, "ANIMATEDIFF_STUDIO_DATA_DIR": str(tmp_path / "d"),
           "ANIMATEDIFF_STUDIO_CONFIG_DIR": str(tmp_path / "c")}
    proc = subprocess.run([sys.executable, "-m", "backend.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--allow-remote" in proc.stderr
