"""The one client of the local service, shared by the Blender add-on and the desktop app.

Standard library only (it is vendored into the Blender extension) and cheap to import. Example:

    >>> client = ensure_backend()                       # attach to the running service, or start one
    >>> job_id = client.submit({"prompt": "a cat", "base": "dreamshaper", "motion_module": "mm_sd_v15_v2",
    ...                         "camera": [{"move": "zoom-in", "strength": 0.8}], "seed": 42})
    >>> for event in client.events(job_id):             # Server-Sent Events until the job ends
    ...     print(event.kind, event.data.get("step"))
    >>> client.download_all(job_id, "clip/")            # frames/0000.png ..., animation.mp4, ...
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APP_NAME = "animatediff-studio"
DEFAULT_PORT = 7865
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
TERMINAL_EVENTS = frozenset({"finished", "failed", "cancelled", "interrupted"})


# -- where the service keeps its files (the same rules as platformdirs, which Blender does not ship) -----------


def user_data_dir() -> Path:
    env = os.environ.get("ANIMATEDIFF_STUDIO_DATA_DIR")
    if env:
        return Path(env)
    return _platform_dir("XDG_DATA_HOME", Path.home() / ".local" / "share")


def user_config_dir() -> Path:
    env = os.environ.get("ANIMATEDIFF_STUDIO_CONFIG_DIR")
    if env:
        return Path(env)
    return _platform_dir("XDG_CONFIG_HOME", Path.home() / ".config")


def _platform_dir(xdg_var: str, xdg_default: Path) -> Path:
    if sys.platform == "win32":  # platformdirs: %LOCALAPPDATA%\<author=app>\<app>, config == data
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_NAME / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    xdg = os.environ.get(xdg_var, "").strip()
    return (Path(xdg) if xdg else xdg_default) / APP_NAME


# -- typed responses -----------------------------------------------------------------------------------------


def _pick(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields this client knows: a newer service may add more."""
    names = cls.__dataclass_fields__
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class Health:
    status: str
    version: str
    device: str  # what the worker runs on; "not loaded" before the first job
    free_memory_bytes: int | None
    queue_length: int
    pid: int
    api: str = "v1"


@dataclass(frozen=True)
class JobError:
    code: str  # out_of_memory, model_not_found, incompatible_models, cancelled, invalid_input, ...
    message: str  # a sentence to show the user
    field: str | None = None


@dataclass(frozen=True)
class Job:
    id: str
    status: str  # queued, running, succeeded, failed, cancelled, interrupted
    created_at: float
    request: dict[str, Any]
    started_at: float | None = None
    finished_at: float | None = None
    error: JobError | None = None
    files: list[str] = field(default_factory=list)  # names for `download`
    seed: int | None = None  # the seed used, once succeeded
    kind: str = "generation"  # or a training (`train`): motion-lora-training, domain-adapter-training, ...
    model: str | None = None  # trainings: the trained model's name in the store, once succeeded

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        values = _pick(cls, data)
        if values.get("error"):
            values["error"] = JobError(**_pick(JobError, values["error"]))
        return cls(**values)


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    seq: int
    kind: str  # queued, started, phase, progress, decoding, finished, failed, cancelled, interrupted
    time: float
    data: dict[str, Any]  # progress: step, total, preview_png_base64?; finished: files, seed; failed: code, message

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL_EVENTS


@dataclass(frozen=True)
class ModelFile:
    """A model file or folder on the service's machine, as the model manager identified it from its contents."""

    name: str  # what to send as base / motion_module / a LoRA's path in a request
    kind: str  # sd15-base, sdxl-base, sd2-base, motion-module, motion-lora, domain-adapter, lora, sparsectrl, vae,
    #            embedding, or unknown / unsafe / corrupt (the reason is in notes)
    path: str
    size_bytes: int
    version: str | None = None  # motion modules: v1, v2, v3, sdxl, animatelcm, hotshotxl, custom
    format: str | None = None  # safetensors, zip-pickle, legacy-pickle, diffusers-folder
    sha256: str | None = None  # None until hashed (`scan()` hashes)
    notes: tuple[str, ...] = ()  # evidence, warnings, or why a file cannot be used
    base_family: str | None = None  # sd15, sd2, sdxl
    camera_move: str | None = None  # MotionLoRAs whose name says the move
    layout: str | None = None
    precision: str | None = None
    root: str | None = None
    is_dir: bool = False
    modified: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFile:
        values = _pick(cls, data)
        values["notes"] = tuple(values.get("notes") or ())
        return cls(**values)


@dataclass(frozen=True)
class ModelImported(ModelFile):
    outcome: str = ""  # copied, linked, or already-there


@dataclass(frozen=True)
class ModelRemoved:
    name: str
    kind: str
    path: str


@dataclass(frozen=True)
class ModelScanStatus:
    """A background scan: `state` idle/running/done/failed; `result` (counts, problems) once done."""

    state: str
    phase: str
    path: str | None = None
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None  # files, added, changed, unchanged, removed, hashed, problems, ...
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class ModelRoot:
    path: str
    source: str  # store, env, user
    layout: str  # store, comfyui, a1111, plain
    folders: list[dict[str, Any]] = field(default_factory=list)  # {path, kinds, label, exists}
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModelCheckIssue:
    code: str  # model_not_found, wrong_model_kind, incompatible_models, unsafe_checkpoint, invalid_input, ...
    field: str  # the request field: base, motion_module, camera[0], motion_loras[1], ...
    message: str  # a sentence to show the user


@dataclass(frozen=True)
class ModelCheck:
    """The pre-flight answer: `ok` means the engine would load this combination."""

    ok: bool
    errors: list[ModelCheckIssue]
    warnings: list[ModelCheckIssue]
    models: dict[str, dict[str, Any]]  # field -> {path, kind, version, base_family, notes}


@dataclass(frozen=True)
class CameraMoveStatus:
    move: str
    file: str  # the official MotionLoRA the move needs
    present: bool
    url: str
    store_folder: str
    approx_size_bytes: int
    path: str | None = None


@dataclass(frozen=True)
class OfficialModelFile:
    file: str
    kind: str
    version: str | None
    camera_move: str | None
    approx_size_bytes: int
    description: str
    url: str
    store_folder: str
    present: bool
    path: str | None = None


@dataclass(frozen=True)
class Upload:
    id: str  # put it in a request's `references` as `{"image": id, "frame": 0}`
    width: int
    height: int
    format: str  # PNG, JPEG or WEBP
    size_bytes: int


@dataclass(frozen=True)
class JobDeleted:
    id: str
    outcome: str  # cancelling, cancelled or deleted


class ApiError(Exception):
    """A rejection by the service: `code` is machine-readable, `message` names field, value and what is accepted."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(f"[{status} {code}] {message}")
        self.status, self.code, self.message, self.field, self.value = status, code, message, field, value


class BackendStartError(RuntimeError):
    """The service could not be started; the message says why and where its log is."""


# -- the client ----------------------------------------------------------------------------------------------


class Client:
    """Methods for every `/v1` route. Thread-safe: each call opens its own connection."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or DEFAULT_PORT
        self._token = token
        self.timeout = timeout
        self.process: subprocess.Popen | None = None  # set by ensure_backend when it started the service

    # transport

    def request(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                timeout: float | None = None) -> http.client.HTTPResponse:
        """Send one request; returns the open response (2xx) or raises `ApiError`. Low-level: prefer the methods."""
        conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout or self.timeout)
        all_headers = {"Authorization": f"Bearer {self._token}", **(headers or {})}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=all_headers)
        resp = conn.getresponse()
        if resp.status >= 400:
            raw = resp.read()
            conn.close()
            try:
                err = json.loads(raw)["error"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(resp.status, "http_error", raw.decode("utf-8", "replace")[:500]) from None
            raise ApiError(resp.status, err.get("code", "error"), err.get("message", ""), err.get("field"),
                           err.get("value"))
        return resp

    def _json(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        resp = self.request(method, path, body, timeout=timeout)
        try:
            return json.loads(resp.read())
        finally:
            resp.close()

    # routes

    def health(self, timeout: float | None = None) -> Health:
        return Health(**_pick(Health, self._json("GET", "/v1/health", timeout=timeout)))

    # the model manager

    def models(self, kind: str | None = None, include_shadowed: bool = False) -> list[ModelFile]:
        """Models on the service's machine, one per name; `kind` is a kind (motion-module) or a store folder
        (motion-modules). `include_shadowed`: also files whose name an earlier root uses."""
        params = {**({"kind": kind} if kind else {}), **({"all": "true"} if include_shadowed else {})}
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return [ModelFile.from_dict(m) for m in self._json("GET", f"/v1/models{query}")["models"]]

    def model_info(self, model: str, hash: bool = False, timeout: float | None = None) -> ModelFile:  # noqa: A002
        """What one file is (a name or an absolute path); `hash=True` reads the whole file for its SHA-256."""
        query = urllib.parse.urlencode({"model": model, "hash": str(hash).lower()})
        return ModelFile.from_dict(self._json("GET", f"/v1/models/info?{query}", timeout=timeout))

    def scan(self, hash: bool = True, wait: bool = True, poll: float = 0.25,  # noqa: A002
             on_progress: Callable[[ModelScanStatus], None] | None = None) -> ModelScanStatus:
        """Index every root (the service hashes in the background); with `wait`, poll until it has finished."""
        status = _scan_status(self._json("POST", "/v1/models/scan", {"hash": hash}))
        while wait and status.running:
            if on_progress is not None:
                on_progress(status)
            time.sleep(poll)  # the scan runs in the service; polling its status is the whole protocol
            status = self.scan_status()
        return status

    def scan_status(self) -> ModelScanStatus:
        return _scan_status(self._json("GET", "/v1/models/scan"))

    def import_model(self, path: str, link: bool = False, name: str | None = None,
                     timeout: float = 3600.0) -> ModelImported:
        """Copy (or link) a file on the service's machine into its store; copying GBs takes a while."""
        body = {"path": path, "link": link, **({"name": name} if name else {})}
        return ModelImported.from_dict(self._json("POST", "/v1/models/import", body, timeout=timeout))

    def remove_model(self, name: str, kind: str | None = None) -> ModelRemoved:
        """Delete a model from the service's store (files in other roots are refused with 409)."""
        query = f"?kind={urllib.parse.quote(kind)}" if kind else ""
        return ModelRemoved(**_pick(ModelRemoved, self._json("DELETE", f"/v1/models/{_q(name)}{query}")))

    def model_roots(self) -> list[ModelRoot]:
        return [ModelRoot(**_pick(ModelRoot, r)) for r in self._json("GET", "/v1/models/roots")["roots"]]

    def add_model_root(self, path: str) -> ModelRoot:
        """Search this folder too (a ComfyUI or A1111 install is recognised); it is indexed at once."""
        return ModelRoot(**_pick(ModelRoot, self._json("POST", "/v1/models/roots", {"path": path}, timeout=600)))

    def remove_model_root(self, path: str) -> list[ModelRoot]:
        query = urllib.parse.urlencode({"path": path})
        return [ModelRoot(**_pick(ModelRoot, r)) for r in self._json("DELETE", f"/v1/models/roots?{query}")["roots"]]

    def check_models(self, request: dict[str, Any]) -> ModelCheck:
        """Pre-flight a request's model fields (base, motion_module, motion_loras, camera, loras, domain_adapter,
        sparsectrl, frames, scheduler); other keys of a generation request are ignored here."""
        fields = ("base", "motion_module", "motion_loras", "camera", "loras", "domain_adapter", "sparsectrl", "frames",
                  "scheduler")
        data = self._json("POST", "/v1/models/check", {k: v for k, v in request.items() if k in fields})
        issues = [[ModelCheckIssue(**_pick(ModelCheckIssue, i)) for i in data[key]] for key in ("errors", "warnings")]
        return ModelCheck(ok=data["ok"], errors=issues[0], warnings=issues[1], models=data["models"])

    def camera_moves(self) -> list[CameraMoveStatus]:
        return [CameraMoveStatus(**_pick(CameraMoveStatus, m)) for m in self._json("GET", "/v1/models/camera-moves")
                ["moves"]]

    def model_catalog(self) -> list[OfficialModelFile]:
        return [OfficialModelFile(**_pick(OfficialModelFile, f)) for f in self._json("GET", "/v1/models/catalog")
                ["files"]]

    def openapi(self) -> dict[str, Any]:
        return self._json("GET", "/v1/openapi.json")

    def submit(self, request: dict[str, Any]) -> str:
        """Queue a generation (the fields of `GenerationRequestBody`); returns the job id at once."""
        return self._json("POST", "/v1/jobs", request)["id"]

    def upload_image(self, image: str | os.PathLike | bytes) -> Upload:
        """Send a reference picture (a file path or the file's bytes: PNG, JPEG or WebP); returns its id."""
        data = image if isinstance(image, bytes) else Path(image).read_bytes()
        resp = self.request("POST", "/v1/uploads", data, headers={"Content-Type": _image_type(data)})
        try:
            return Upload(**_pick(Upload, json.loads(resp.read())))
        finally:
            resp.close()

    def job(self, job_id: str) -> Job:
        return Job.from_dict(self._json("GET", f"/v1/jobs/{_q(job_id)}"))

    def jobs(self, kind: str | None = None) -> list[Job]:
        """The history, oldest first; `kind`: only "generation" or one training kind ("motion-lora-training", ...)."""
        query = f"?kind={urllib.parse.quote(kind)}" if kind else ""
        return [Job.from_dict(j) for j in self._json("GET", f"/v1/jobs{query}")["jobs"]]

    def train(self, kind: str, *, name: str, base: str, motion_module: str | None = None,
              data_path: str | None = None, images: Sequence[str] = (), camera_move: str | None = None,
              steps: int | None = None, rank: int | None = None, learning_rate: float | None = None,
              **options: Any) -> str:
        """Queue a training (`POST /v1/trainings`) of `kind`: "motion-lora", "domain-adapter" or "motion-module";
        returns the job id at once.

        Data: `data_path`, a folder of clips on the service's machine (for a MotionLoRA with `camera_move`, its
        pictures and clips become clips of that move), or, for a MotionLoRA only, `images`: upload ids
        (`upload_image`) of pictures plus the `camera_move` to synthesize. `motion_module`: required for a
        MotionLoRA, a starting point for a motion module. `options`: the other fields of `TrainingBody`
        (caption, frames, size, batch_size, motion_variant, domain_adapter, ...). Follow it with `events`/`wait`
        (progress: step, total, loss); once succeeded, `job.model` is the trained model's name in `models()`.
        """
        body: dict[str, Any] = {"kind": kind, "name": name, "base": base, **options}
        for key, value in (("motion_module", motion_module), ("data_path", data_path), ("camera_move", camera_move),
                           ("steps", steps), ("rank", rank), ("learning_rate", learning_rate)):
            if value is not None:
                body[key] = value
        if images:
            body["images"] = list(images)
        return self._json("POST", "/v1/trainings", body)["id"]

    def train_motion_lora(self, *, name: str, base: str, motion_module: str, **options: Any) -> str:
        """`train("motion-lora", ...)`: a MotionLoRA from `data_path`'s clips or from `images` + `camera_move`."""
        return self.train("motion-lora", name=name, base=base, motion_module=motion_module, **options)

    def delete(self, job_id: str) -> JobDeleted:
        """Cancel a queued/running job (stops within one denoising step), or remove a finished one."""
        return JobDeleted(**_pick(JobDeleted, self._json("DELETE", f"/v1/jobs/{_q(job_id)}")))

    def cancel(self, job_id: str) -> JobDeleted:
        """Cancel a queued/running job (it stops within one denoising step). A job that already ended raises
        `ApiError` 409 `not_cancellable`, and is left as it is (unlike `delete`, which would remove it)."""
        return JobDeleted(**_pick(JobDeleted, self._json("POST", f"/v1/jobs/{_q(job_id)}/cancel")))

    def events(self, job_id: str, after: int = 0, timeout: float = 120.0) -> Iterator[JobEvent]:
        """The job's events (stored ones first, then live) until its terminal event; `timeout` per read."""
        resp = self.request("GET", f"/v1/jobs/{_q(job_id)}/events?after={after}",
                            headers={"Accept": "text/event-stream"}, timeout=timeout)
        try:
            for data in _sse_data(resp):
                event = JobEvent(**_pick(JobEvent, json.loads(data)))
                yield event
                if event.terminal:
                    return
        finally:
            resp.close()

    def wait(self, job_id: str, on_event: Callable[[JobEvent], None] | None = None) -> Job:
        """Follow the events until the job ends; returns the final job."""
        for event in self.events(job_id):
            if on_event is not None:
                on_event(event)
        return self.job(job_id)

    def file_bytes(self, job_id: str, name: str) -> bytes:
        resp = self.request("GET", f"/v1/jobs/{_q(job_id)}/files/{urllib.parse.quote(name)}")
        try:
            return resp.read()
        finally:
            resp.close()

    def download(self, job_id: str, name: str, dest: str | os.PathLike) -> Path:
        """One output (`animation.mp4`, `frames/0003.png`, ...) to the file `dest`."""
        path = Path(dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        resp = self.request("GET", f"/v1/jobs/{_q(job_id)}/files/{urllib.parse.quote(name)}")
        try:
            with open(path, "wb") as f:
                while chunk := resp.read(1 << 16):
                    f.write(chunk)
        finally:
            resp.close()
        return path

    def download_all(self, job_id: str, dest_dir: str | os.PathLike) -> list[Path]:
        """Every output of a succeeded job into `dest_dir`, keeping the service's layout (frames/...)."""
        return [self.download(job_id, name, Path(dest_dir) / name) for name in self.job(job_id).files]


def _image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"  # the service sniffs the bytes anyway and names what it accepts


def _scan_status(data: dict[str, Any]) -> ModelScanStatus:
    return ModelScanStatus(**_pick(ModelScanStatus, data))


def _q(job_id: str) -> str:
    return urllib.parse.quote(job_id, safe="")


def _sse_data(resp: http.client.HTTPResponse) -> Iterator[str]:
    """The `data:` payload of each event of a text/event-stream (comments and other fields skipped)."""
    lines: list[str] = []
    while True:
        raw = resp.readline()
        if not raw:
            return
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
        elif line.startswith("data:"):
            lines.append(line[5:].lstrip(" "))


# -- attach to the running service, or start the embedded one -------------------------------------------------


def attach(data_dir: Path | None = None, config_dir: Path | None = None, timeout: float = 2.0) -> Client | None:
    """A client of the service described by `server.json`, if it answers; else None."""
    data_dir, config_dir = data_dir or user_data_dir(), config_dir or user_config_dir()
    try:
        info = json.loads((data_dir / "server.json").read_text())
        token = (config_dir / "token").read_text().strip()
    except (OSError, ValueError):
        return None
    host = "127.0.0.1" if info.get("host") in (None, "0.0.0.0", "::") else info["host"]
    client = Client(f"http://{'[' + host + ']' if ':' in host else host}:{info['port']}", token)
    try:
        health = client.health(timeout=timeout)
    except (OSError, ApiError, ValueError, KeyError):
        return None
    return client if health.pid == info.get("pid") else None


def ensure_backend(*, python: str | None = None, port: int = DEFAULT_PORT, command: list[str] | None = None,
                   data_dir: Path | None = None, config_dir: Path | None = None, start_timeout: float = 120.0,
                   env: dict[str, str] | None = None) -> Client:
    """Attach to the running service, or start `python -m backend.cli serve` and wait until it is healthy.

    `python`: the interpreter that has the backend installed (inside Blender, `sys.executable` is Blender
    itself, so the add-on passes the studio's Python). Raises `BackendStartError` with the log path.
    """
    data_dir, config_dir = data_dir or user_data_dir(), config_dir or user_config_dir()
    client = attach(data_dir, config_dir)
    if client is not None:
        return client
    if service_alive(data_dir):
        # A live service that is slow to answer (busy on a loaded machine, or still starting): wait for it.
        # Starting a second one would be refused anyway: one service per data folder.
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            client = attach(data_dir, config_dir, timeout=5.0)
            if client is not None:
                return client
            time.sleep(0.2)
        raise BackendStartError(f"a service is running for {data_dir} but did not answer within "
                                f"{start_timeout:.0f} s; see its log {data_dir / 'logs' / 'server.log'}")
    cmd = command or [python or sys.executable, "-m", "backend.cli", "serve", "--port", str(port)]
    child_env = {**os.environ, **(env or {}), "ANIMATEDIFF_STUDIO_DATA_DIR": str(data_dir),
                 "ANIMATEDIFF_STUDIO_CONFIG_DIR": str(config_dir)}
    log_path = data_dir / "logs" / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        # A new session: a Ctrl-C or crash of the front end does not take the service (and the GPU job) with it.
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env,
                                start_new_session=os.name != "nt")
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BackendStartError(f"the backend exited with code {proc.returncode} while starting "
                                    f"({' '.join(cmd)}); see its log {log_path}:\n{_tail(log_path)}")
        client = attach(data_dir, config_dir, timeout=1.0)
        if client is not None and client.health().pid == proc.pid:
            client.process = proc
            return client
        time.sleep(0.1)  # bounded start-up poll: the service has no way to signal us before it listens
    proc.kill()
    raise BackendStartError(f"the backend did not answer within {start_timeout:.0f} s ({' '.join(cmd)}); "
                            f"see its log {log_path}:\n{_tail(log_path)}")


def service_alive(data_dir: Path) -> bool:
    """Whether a service process holds `data_dir`'s instance lock (taken by `serve` for its whole life, and
    dropped by the OS when it dies, even by kill -9). The same lock as backend/server/instance_lock.py,
    probed here with the standard library because this module is vendored on its own into the add-on."""
    path = data_dir / "server.lock"
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            if os.name == "nt":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        except OSError:
            return True
    return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log written)"
