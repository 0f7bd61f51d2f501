"""The one GPU worker: a thread that runs queued jobs in order through one `AnimationEngine`; MotionLoRA
trainings (`training_runner.py`) take their turn in the same queue, since both need the one GPU.

Cancelling sets that job's own `threading.Event`; the engine polls it after every denoising step and
raises `Cancelled` there (the VAE decode is skipped); a trainer polls it after every optimizer step. A CUDA
OOM fails only its job: the cache is dropped and the allocator emptied, and the next job starts from a clean
device.
"""

from __future__ import annotations

import gc
import logging
import queue
import shutil
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.server.faults import FaultInjector
from backend.server.job_store import JobFailure, JobRecord, JobStore
from backend.server.schema import TRAINING_JOB_KINDS

log = logging.getLogger("animatediff_studio.worker")
PREVIEWS_PER_JOB = 5  # enough to watch the clip form; each is a small PNG stored with the events


class Worker:
    def __init__(self, store: JobStore, jobs_dir: Path, device: str | None = None,
                 faults: FaultInjector | None = None,
                 import_model: Callable[[Path, str], str] | None = None) -> None:
        self._store = store
        self._import_model = import_model  # a trained MotionLoRA -> the model store (the app's ModelManager)
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
        if job.kind in TRAINING_JOB_KINDS.values():
            self._run_training(job, cancel_flag)
            return
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

    def _run_training(self, job: JobRecord, cancel_flag: threading.Event) -> None:
        from backend.server.training_runner import run_training_job

        assert self._import_model is not None, "the app gives the worker the model store"
        partial = self._jobs_dir / f"{job.id}.partial"
        # The generation pipeline stays cached between jobs; a training needs that memory for its own models.
        self._free_memory()
        try:
            outcome = run_training_job(job.request, partial, self.job_dir(job.id),
                                       lambda kind, data: self._store.add_event(job.id, kind, data),
                                       cancel_flag.is_set, self._device, self._import_model)
        except Exception as exc:  # classified below, as for a generation
            failure = self._classify(exc, training=True)
            if failure.code == "internal_error":
                log.error("training %s failed:\n%s", job.id, "".join(traceback.format_exception(exc)))
        else:
            failure = None
        self._free_memory()  # the trained models are garbage now; the next job starts from a clean device
        if failure is not None:
            shutil.rmtree(partial, ignore_errors=True)
            self._fail(job.id, failure)
            return
        if outcome.cancelled:
            message = (f"cancelled after step {outcome.steps_done} of {outcome.total}; its checkpoint and loss plot "
                       "are kept in the job's folder")
            self._store.finish(job.id, "cancelled", failure=JobFailure("cancelled", message), files=outcome.files)
            self._store.add_event(job.id, "cancelled", {"code": "cancelled", "message": message, "field": None,
                                                        "files": outcome.files})
            return
        self._store.finish(job.id, "succeeded", files=outcome.files, model=outcome.model)
        self._store.add_event(job.id, "finished", {"files": outcome.files, "model": outcome.model})

    def _progress_reporter(self, job_id: str):  # -> ProgressCallback
        def report(p: Any) -> None:
            if p.phase == "decoding":
                self._store.add_event(job_id, "decoding", {})
                return
            if p.phase != "denoising":
                self._store.add_event(job_id, "phase", {"phase": p.phase})
                return
            if p.step == 0:
                self._store.add_event(job_id, "phase", {"phase": "denoising", "total": p.total,
                                                        "memory_plan": p.memory_plan})
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

    def _classify(self, exc: BaseException, training: bool = False) -> JobFailure:
        from models.errors import StudioError

        if isinstance(exc, StudioError):
            if training:  # the trainer names its fields as its config does (data.path); the client sent data_path
                from backend.server.training_validation import failure_field

                exc = failure_field(exc)
            return JobFailure(exc.code, exc.message, exc.field)
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError) and training:
            return JobFailure(
                "out_of_memory",
                "The GPU ran out of memory for this training; lower size, frames, batch_size or rank, use "
                "mixed_precision fp16, or close other programs using the GPU, then submit it again.",
            )
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
