"""The one GPU worker: a thread that runs queued jobs in order through one `AnimationEngine`.

Cancelling sets that job's own `threading.Event`; the engine polls it after every denoising step and
raises `Cancelled` there (the VAE decode is skipped). A CUDA OOM fails only its job: the cache is
dropped and the allocator emptied, and the next job starts from a clean device.
"""

from __future__ import annotations

import gc
import logging
import queue
import shutil
import threading
import traceback
from pathlib import Path
from typing import Any

from backend.server.faults import FaultInjector
from backend.server.job_store import JobFailure, JobStore

log = logging.getLogger("animatediff_studio.worker")
PREVIEWS_PER_JOB = 5  # enough to watch the clip form; each is a small PNG stored with the events


class Worker:
    def __init__(self, store: JobStore, jobs_dir: Path, device: str | None = None,
                 faults: FaultInjector | None = None) -> None:
        self._store = store
        self._jobs_dir = jobs_dir
        self._device = device
        self._faults = faults or FaultInjector()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._cancel_flags: dict[str, threading.Event] = {}
        self._flags_lock = threading.Lock()
        self._engine: Any = None  # AnimationEngine, imported on the first job (keeps start-up light)
        self.device_label = "not loaded"
        self._thread = threading.Thread(target=self._run, name="gpu-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def queue_length(self) -> int:
        return self._queue.qsize()

    def enqueue(self, job_id: str) -> None:
        with self._flags_lock:
            self._cancel_flags[job_id] = threading.Event()
        self._queue.put(job_id)

    def cancel(self, job_id: str) -> None:
        """Queued: cancelled at once. Running: the engine stops within one denoising step."""
        with self._flags_lock:
            flag = self._cancel_flags.get(job_id)
        if flag is not None:
            flag.set()
        self._store.cancel_if_queued(job_id)

    def job_dir(self, job_id: str) -> Path:
        return self._jobs_dir / job_id

    # -- the thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._flags_lock:
                flag = self._cancel_flags.get(job_id) or threading.Event()
            try:
                if not flag.is_set() and self._store.claim(job_id):
                    self._run_job(job_id, flag)
            except Exception:  # the worker must outlive any single job
                log.exception("job %s: unexpected error in the worker", job_id)
            finally:
                with self._flags_lock:
                    self._cancel_flags.pop(job_id, None)

    def _run_job(self, job_id: str, cancel_flag: threading.Event) -> None:
        job = self._store.get(job_id)
        assert job is not None
        self._store.add_event(job_id, "started", {})
        # Written beside the final folder and renamed: a crash never leaves a half-written job folder.
        partial = self._jobs_dir / f"{job_id}.partial"
        try:
            from backend.engine.engine import AnimationEngine
            from backend.engine.outputs import write_outputs
            from backend.engine.request import GenerationRequest

            if self._engine is None:
                self._engine = AnimationEngine(device=self._device)
            req = GenerationRequest.from_dict(job.request)
            result = self._engine.generate(req, on_progress=self._progress_reporter(job_id),
                                           should_cancel=cancel_flag.is_set)
            self.device_label = result.device
            shutil.rmtree(partial, ignore_errors=True)
            meta = write_outputs(result, partial)
            files = [*meta["files"], "metadata.json"]
            partial.rename(self.job_dir(job_id))
        except Exception as exc:  # classified below; anything unknown is reported, never swallowed
            failure = self._classify(exc)
            if failure.code == "internal_error":
                log.error("job %s failed:\n%s", job_id, "".join(traceback.format_exception(exc)))
        else:
            failure = None
        if failure is not None:
            # Out of the except block: the traceback (and the tensors its frames hold) is released now.
            shutil.rmtree(partial, ignore_errors=True)
            self._fail(job_id, failure)
            return
        self._store.finish(job_id, "succeeded", files=files, seed=result.request.seed)
        self._store.add_event(job_id, "finished", {"files": files, "seed": result.request.seed})

    def _progress_reporter(self, job_id: str):  # -> ProgressCallback
        def report(p: Any) -> None:
            if p.phase == "decoding":
                self._store.add_event(job_id, "decoding", {})
                return
            if p.phase != "denoising":
                self._store.add_event(job_id, "phase", {"phase": p.phase})
                return
            if p.step == 0:
                self._store.add_event(job_id, "phase", {"phase": "denoising", "total": p.total})
                return
            self._faults.at_denoising_step()
            data: dict[str, Any] = {"step": p.step, "total": p.total}
            # The first step's preview at once (the user sees the layout forming), then a few more.
            every = max(1, p.total // PREVIEWS_PER_JOB)
            if p.latents is not None and (p.step == 1 or p.step % every == 0 or p.step == p.total):
                from backend.server.previews import latents_to_preview_base64

                data["preview_png_base64"] = latents_to_preview_base64(p.latents)
            self._store.add_event(job_id, "progress", data)

        return report

    def _fail(self, job_id: str, failure: JobFailure) -> None:
        status = "cancelled" if failure.code == "cancelled" else "failed"
        if failure.code == "out_of_memory":
            self._free_memory()
        self._store.finish(job_id, status, failure=failure)
        self._store.add_event(job_id, status, {"code": failure.code, "message": failure.message,
                                               "field": failure.field})

    def _classify(self, exc: BaseException) -> JobFailure:
        from models.errors import StudioError

        if isinstance(exc, StudioError):
            return JobFailure(exc.code, exc.message, exc.field)
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return JobFailure(
                "out_of_memory",
                "The GPU ran out of memory for this job; lower width/height or frames, set decode_chunk_size "
                "to 1 or 2, use precision fp16, or close other programs using the GPU, then submit it again.",
            )
        return JobFailure("internal_error", f"{type(exc).__name__}: {exc}")

    def _free_memory(self) -> None:
        if self._engine is not None:
            self._engine.cache.clear()
        gc.collect()  # tensors referenced by the failed run's traceback go first
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
