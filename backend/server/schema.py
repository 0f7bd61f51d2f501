"""The wire schema: every request, response and error body of `/v1`, and the source of the OpenAPI document.

Types are checked here (strictly: `"8"` is not an integer, nothing is silently converted); what values the
engine accepts is decided by `backend.engine.request_checks.check_request`, so the two can never disagree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
# Event kinds sent over SSE, in the order a job goes through them (the last one is terminal).
EventKind = Literal["queued", "started", "phase", "progress", "decoding", "log", "finished", "failed", "cancelled",
                    "interrupted"]
TERMINAL_EVENTS: frozenset[str] = frozenset({"finished", "failed", "cancelled", "interrupted"})
# What a job does: POST /v1/jobs queues a generation, POST /v1/trainings a training of one of the paper's modules.
JobKind = Literal["generation", "motion-lora-training", "domain-adapter-training", "motion-module-training"]
TrainingKind = Literal["motion-lora", "domain-adapter", "motion-module"]
# A training body's `kind` -> the job's kind, and the model-store folder its result is imported into.
TRAINING_JOB_KINDS: dict[str, str] = {"motion-lora": "motion-lora-training",
                                      "domain-adapter": "domain-adapter-training",
                                      "motion-module": "motion-module-training"}
TRAINING_STORE_FOLDERS: dict[str, str] = {"motion-lora": "motion-loras", "domain-adapter": "domain-adapters",
                                          "motion-module": "motion-modules"}
TRAINING_KIND = TRAINING_JOB_KINDS["motion-lora"]


class _Body(BaseModel):
    # Unknown keys are errors (a typo must not be ignored) and types are not coerced.
    model_config = ConfigDict(extra="forbid", strict=True)


class WeightedFileBody(_Body):
    path: str = Field(description="a file path on the service's machine, or a model name in the store")
    weight: float = 1.0


class CameraMoveBody(_Body):
    move: str = Field(description="zoom-in, zoom-out, pan-left, pan-right, tilt-up, tilt-down, roll-clockwise, "
                                  "roll-anticlockwise")
    strength: float = 1.0


class ReferenceFrameBody(_Body):
    image: str = Field(description="an upload id from POST /v1/uploads, or an absolute image path on the service's "
                                   "machine")
    frame: int = Field(default=0, description="the frame it is the start of; negative counts from the end (-1: last)")


class PromptAtBody(_Body):
    frame: int = Field(description="the frame this prompt holds from (1 .. frames-1); the main prompt holds at 0")
    prompt: str


class GenerationRequestBody(_Body):
    """`POST /v1/jobs`: the fields of `GenerationRequest` (and the CLI's options), in snake_case."""

    prompt: str
    base: str = Field(description="SD1.5-family base: path or model name")
    motion_module: str = Field(description="motion module: path or model name")
    negative_prompt: str = ""
    motion_loras: list[WeightedFileBody] = []
    camera: list[CameraMoveBody] = []
    loras: list[WeightedFileBody] = []
    domain_adapter: WeightedFileBody | None = None
    width: int = 512
    height: int = 512
    frames: int = 16
    steps: int = 25
    guidance: float = 7.5
    guidance_rescale: float = Field(default=0.0, description=(
        "0 to 1: pulls the guided prediction's spread back toward the prompt branch's (Lin et al. 2024; 0.7 is "
        "theirs), against over-exposure at strong guidance on zero-terminal-SNR bases; 0: off"))
    seed: int | None = Field(default=None, description="random when omitted; the one used is in metadata.json")
    scheduler: str = "ddim"
    fps: int = 8
    precision: str = "auto"
    decode_chunk_size: int = 4
    memory_plan: str = Field(default="auto", description=(
        "auto: predict the job's peak memory and choose batched or sequential guidance, feed-forward pieces, "
        "decode chunk, CPU offload (GPU only) and (last) context windows to fit; the plan is in the events and "
        "metadata.json. off: as asked, every model on the device. model-offload: as asked, with model CPU "
        "offload (one model on the GPU at a time)"))
    memory_limit_mb: int = Field(default=0, description="the most auto may plan for, MiB (0: the free memory)")
    deep_cache: int = Field(default=0, description=(
        "DeepCache-style feature caching, a speed/quality trade: the whole UNet runs every N-th step and only "
        "its outermost blocks in between, reusing the deeper features (0: off; 2 to 10; not with sparsectrl)"))
    references: list[ReferenceFrameBody] = Field(default=[], description=(
        "pictures the clip starts from (image-to-video): every frame starts from the latents of the reference at "
        "its index, a blend between two references, noised by reference_strength"))
    reference_strength: float = Field(default=0.8, description=(
        "img2img denoising strength for references: 0 keeps them, 1 ignores them"))
    sparsectrl: WeightedFileBody | None = Field(default=None, description=(
        "SparseCtrl RGB or scribble model (path or name; weight = conditioning scale 0..2): the references then "
        "condition their frames through it instead of starting the clip"))
    prompt_at: list[PromptAtBody] = Field(default=[], description=(
        "prompt travel: each prompt holds from its frame; text embeddings blend linearly in between"))
    context_length: int = Field(default=0, description=(
        "sliding context windows of this many frames (0: none; the clip must then fit the motion module)"))
    context_overlap: int = Field(default=4, description="frames shared by neighbouring windows")
    context_weighting: Literal["flat", "pyramid"] = "pyramid"
    closed_loop: bool = Field(default=False, description="windows wrap around the end: a seamless loop")
    free_noise: bool = Field(default=False, description="FreeNoise: windows start from shuffled shared noise")
    free_init: int = Field(default=0, description="FreeInit: extra refining rounds (0 to 5)")
    video: list[str] = Field(default=[], description=(
        "video-to-video: the frames to restyle, as upload ids or absolute paths (or one absolute video file or "
        "frames folder); the first `frames` are used"))
    video_strength: float = Field(default=0.8, description="img2img strength for video: 0 keeps it, 1 ignores it")
    extend: str | None = Field(default=None, description=(
        "continue a finished clip by `frames` frames: a succeeded job's id (or an absolute clip folder)"))
    extend_overlap: int = Field(default=4, description="the source's last frames the continuation starts from")
    extra: dict[str, Any] = Field(default_factory=dict, description="free-form, recorded in metadata.json as is")


class TrainingBody(_Body):
    """`POST /v1/trainings`: train one of the paper's three modules; the result joins the model store.

    - `motion-lora` (default): a LoRA on the motion module's self-attention, from clips of one camera move, or from
      pictures turned into clips of a synthesized move.
    - `domain-adapter`: a LoRA on the frozen base's attention, from single frames of `data_path`'s clips (it
      absorbs what is particular to that footage, such as a watermark or compression, so generations can leave
      it out at scale 0).
    - `motion-module`: a new temporal module (or `motion_module` trained on) from `data_path`'s clips, base frozen.
    """

    kind: TrainingKind = Field(default="motion-lora", description="what to train: motion-lora, domain-adapter or "
                                                                  "motion-module")
    name: str = Field(description=(
        "the trained model's name in the store (letters, digits, _ - +; not a name already in use for that kind)"))
    base: str = Field(description="SD1.5-family base, frozen while training: path or model name")
    motion_module: str | None = Field(default=None, description=(
        "motion-lora: the motion module the MotionLoRA adapts (required); motion-module: the module to train on "
        "(omitted: a new one, zero-initialised); domain-adapter: not used"))
    motion_variant: str = Field(default="transformer", description=(
        "motion-module: the paper's temporal transformer, or EasyAnimate's hybrid (global attention on odd "
        "modules); the 1D-convolution ablation is CLI-only, since it cannot generate"))
    data_path: str | None = Field(default=None, description=(
        "an absolute folder on the service's machine: clips (mp4/webm/mov/mkv/gif, frame folders) with sidecar "
        ".txt or captions.csv captions; with camera_move, its pictures and clips are the sources of the move"))
    images: list[str] = Field(default=[], description=(
        "pictures (upload ids from POST /v1/uploads, or absolute paths): each becomes a clip of camera_move"))
    camera_move: str | None = Field(default=None, description=(
        "the move to synthesize (zoom-in, zoom-out, pan-left, pan-right, tilt-up, tilt-down, roll-clockwise, "
        "roll-anticlockwise); required with images; omitted: data_path's clips are used as they are"))
    camera_strength: float = Field(default=1.0, description="how far the synthesized camera moves (0.05 to 1.5)")
    caption: str = Field(default="", description="the caption of every picture in images (uploads have no name)")
    steps: int = Field(default=400, description="optimizer steps")
    rank: int = Field(default=8, description="LoRA rank (alpha = rank) of a motion-lora or domain-adapter")
    learning_rate: float = 1e-4
    batch_size: int = 1
    frames: int = Field(default=16, description="frames per training clip")
    stride: int = Field(default=4, description="clips in data_path: take every stride-th frame")
    size: int = Field(default=256, description="square side of the training clips in pixels (a multiple of 8)")
    domain_adapter: str | None = Field(default=None, description=(
        "motion-lora, motion-module: merged into the frozen base while training (as AnimateDiff v3 does)"))
    sample_prompt: str = Field(default="", description="the sample clip's prompt ('': caption, else a default)")
    sample_steps: int = Field(default=20, description="denoising steps of the sample clips")
    sample_every: int = Field(default=0, description="render a sample clip every N steps (0: at the end only)")
    checkpoint_every: int = Field(default=0, description="save a checkpoint every N steps (0: at the end only)")
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    seed: int = 0


class Upload(BaseModel):
    """`POST /v1/uploads` answer: use `id` as a reference's `image`."""

    id: str = Field(description="SHA-256 of the bytes (the same picture uploaded twice has the same id)")
    width: int
    height: int
    format: Literal["PNG", "JPEG", "WEBP"]
    size_bytes: int


class JobCreated(BaseModel):
    id: str
    status: JobStatus


class JobError(BaseModel):
    code: str = Field(description="model_not_found, incompatible_models, out_of_memory, invalid_input, ...")
    message: str = Field(description="a sentence a user can act on")
    field: str | None = None


class Job(BaseModel):
    id: str
    status: JobStatus
    kind: JobKind = "generation"
    created_at: float = Field(description="seconds since the epoch")
    started_at: float | None = None
    finished_at: float | None = None
    request: dict[str, Any]
    error: JobError | None = None
    files: list[str] = Field(default=[], description="names for GET /v1/jobs/{id}/files/{name}")
    seed: int | None = Field(default=None, description="the seed used, once the job succeeded")
    model: str | None = Field(default=None, description=(
        "trainings: the trained model's name in the store (GET /v1/models), once the job succeeded"))


class JobList(BaseModel):
    jobs: list[Job]


class JobEvent(BaseModel):
    """One SSE event: `id:` is `seq`, `event:` is `kind`, `data:` is this object as JSON."""

    job_id: str
    seq: int
    kind: EventKind
    time: float
    data: dict[str, Any] = Field(default={}, description=(
        "phase: {phase}; progress: {step, total, preview_png_base64?} (trainings: {step, total, loss, seconds}); "
        "log: {message}; finished: {files, seed} (trainings: {files, model}); failed: {code, message, field}"))


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    api: str = "v1"
    device: str = Field(description="what the worker runs on: cuda/mps/cpu; 'not loaded' before the first job")
    free_memory_bytes: int | None = Field(description="free accelerator memory when known")
    queue_length: int
    pid: int


# -- the model manager (/v1/models) ---------------------------------------------------------------------------

ModelKind = Literal["sd15-base", "sdxl-base", "sd2-base", "motion-module", "motion-lora", "domain-adapter", "lora",
                    "sparsectrl", "vae", "embedding", "unknown", "unsafe", "corrupt"]


class ModelFile(BaseModel):
    """One model file or folder on the service's machine: what it is, told from its contents."""

    name: str = Field(description="what to send as base / motion_module / motion_loras[].path / ... in POST /v1/jobs")
    kind: ModelKind = Field(description="unknown, unsafe and corrupt files are listed with the reason in notes")
    path: str
    size_bytes: int
    version: str | None = Field(default=None, description=(
        "motion modules: v1, v2, v3, sdxl, animatelcm, hotshotxl or custom; MotionLoRAs: v2 (adapts a mid block) or "
        "v1/v3; domain adapter: v3; SparseCtrl: rgb or scribble"))
    format: str | None = Field(default=None, description="safetensors, zip-pickle, legacy-pickle or diffusers-folder")
    sha256: str | None = Field(default=None, description="null until hashed (POST /v1/models/scan hashes)")
    notes: list[str] = Field(default=[], description="evidence, warnings, the reason for unknown/unsafe/corrupt")
    base_family: str | None = Field(default=None, description="sd15, sd2 or sdxl: the base it is made for")
    camera_move: str | None = Field(default=None, description="MotionLoRAs: the camera move, when the name says it")
    layout: str | None = Field(default=None, description="ldm, diffusers, original, kohya, peft, hotshotxl")
    precision: str | None = Field(default=None, description="fp16, fp32, bf16")
    root: str | None = Field(default=None, description="the root it was found in (see GET /v1/models/roots)")
    is_dir: bool = False
    modified: float | None = Field(default=None, description="modification time, seconds since the epoch")
    details: dict[str, Any] = Field(default={}, description="what the verdict rests on: widths, configs, counts")


class ModelList(BaseModel):
    models: list[ModelFile]


class ModelScanBody(_Body):
    hash: bool = Field(default=True, description="also compute the SHA-256 of every file that has none yet")


class ModelScanResult(BaseModel):
    files: int
    added: int
    changed: int
    unchanged: int
    removed: int
    hashed: int = Field(description="files read end to end (0 when nothing changed since the last scan)")
    hashed_bytes: int
    problems: list[str] = Field(description="'path: kind: reason' for unknown, unsafe and corrupt files")
    seconds: float


class ModelScanStatus(BaseModel):
    """The background scan: poll GET /v1/models/scan until `state` is done or failed."""

    state: Literal["idle", "running", "done", "failed"]
    phase: str = Field(description="walking, detecting, hashing, done")
    path: str | None = Field(default=None, description="the file being detected or hashed")
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = Field(default=0, description="hashing progress")
    bytes_total: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    result: ModelScanResult | None = None
    error: str | None = None


class ModelImportBody(_Body):
    path: str = Field(description="an absolute path on the service's machine (a file or a diffusers folder)")
    link: bool = Field(default=False, description="a symbolic link instead of a copy")
    name: str | None = Field(default=None, description="store it under this name (default: the file's own)")


class ModelImported(ModelFile):
    outcome: Literal["copied", "linked", "already-there"]


class ModelRemoved(BaseModel):
    name: str
    kind: str
    path: str


class ModelRootFolder(BaseModel):
    path: str
    kinds: list[str] = Field(description="what the folder is meant to hold (empty: anything)")
    label: str
    exists: bool


class ModelRoot(BaseModel):
    path: str
    source: Literal["store", "env", "user"] = Field(description="the tool's store, ANIMATEDIFF_STUDIO_MODEL_DIRS, "
                                                                "or added through POST /v1/models/roots")
    layout: Literal["store", "comfyui", "a1111", "plain"]
    folders: list[ModelRootFolder]
    notes: list[str] = []


class ModelRootList(BaseModel):
    roots: list[ModelRoot]


class ModelRootBody(_Body):
    path: str = Field(description="an absolute folder path on the service's machine (e.g. a ComfyUI install)")


class ModelCheckBody(_Body):
    """`POST /v1/models/check`: the model fields of a generation request (all optional)."""

    base: str | None = None
    motion_module: str | None = None
    motion_loras: list[WeightedFileBody] = []
    camera: list[CameraMoveBody] = []
    loras: list[WeightedFileBody] = []
    domain_adapter: WeightedFileBody | None = None
    sparsectrl: WeightedFileBody | None = None
    frames: int | None = Field(default=None, description="frames the module attends over at once (clip or window)")
    scheduler: str | None = None


class ModelCheckIssue(BaseModel):
    code: str = Field(description="model_not_found, wrong_model_kind, incompatible_models, unsafe_checkpoint, ...")
    field: str
    message: str = Field(description="names the field, the file and what would work")


class ModelChecked(BaseModel):
    path: str
    kind: str
    version: str | None = None
    base_family: str | None = None
    notes: list[str] = []


class ModelCheckResult(BaseModel):
    ok: bool = Field(description="no errors: the engine would load this combination")
    errors: list[ModelCheckIssue]
    warnings: list[ModelCheckIssue]
    models: dict[str, ModelChecked] = Field(description="request field -> the file it resolved to")


class CameraMoveStatus(BaseModel):
    move: str
    file: str = Field(description="the official MotionLoRA the move needs")
    present: bool
    path: str | None = Field(default=None, description="the file that provides it here")
    url: str = Field(description="where to download the official file")
    store_folder: str = Field(description="where a downloaded file goes")
    approx_size_bytes: int


class CameraMoveList(BaseModel):
    moves: list[CameraMoveStatus]


class OfficialModelFile(BaseModel):
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


class ModelCatalog(BaseModel):
    files: list[OfficialModelFile]


class ErrorDetail(BaseModel):
    code: str = Field(description="invalid_input, model_not_found, unauthorized, not_found, ...")
    message: str = Field(description="names the field, the value and what would be accepted")
    field: str | None = None
    value: Any = None


class ErrorBody(BaseModel):
    """Every 4xx/5xx body."""

    error: ErrorDetail


class JobDeleted(BaseModel):
    id: str
    outcome: Literal["cancelling", "cancelled", "deleted"] = Field(description=(
        "cancelling: the running job stops within one denoising step (watch its events); cancelled: it was "
        "still queued; deleted: a finished job and its outputs were removed"))
