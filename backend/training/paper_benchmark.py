"""The AnimateDiff paper's claims, measured on the built-in model with the shape tracker.

Rows (each over `seeds` seeds; the prompt of seed i cycles colours, shapes and, where it has one, directions):

- `direction`: "a red circle moving left|right|up|down" with the motion module: is the tracked travel in the
  prompted direction (at least 4 px)? Paper: the motion module makes clips move as the prompt says.
- `direction-text-response`: the same noise twice, only the direction word swapped ("moving right" vs "moving
  left" on even seeds, "moving down" vs "moving up" on odd ones): share of seeds whose clip goes further the
  first word's way than the second's (50%: the word changes nothing), with the mean paired shift in pixels
  next to the mean travel. It tells a module that ignores the text from one that follows it weakly.
- `coherence`: "a <colour> <shape>" with the motion module vs the same seeds with a zero-initialised one (the
  base frame by frame): share of seeds whose tracked shape moves less than COHERENT_JUMP pixels between
  consecutive frames (median), the paired share where the module's clip jumps less than the same seed's
  frame-by-frame clip, and the mean pixel change between frames. Paper: the module turns the frames into one clip.
- `direction-without-module`: the same with a zero-initialised motion module, i.e. the base alone frame by
  frame (what the paper compares against): about chance, 25%, or less when nothing moves.
- `personalized`: the same prompts on the outlined-style fine-tune: share of frames drawn outlined (the shape's
  bright pixels enclose a dark hole, `motion_measure.is_outlined`) against the same seeds frame by frame, and the
  direction accuracy (the motion module never saw that style).
- `watermark`: "a red circle" with the domain adapter at scale 1 vs without it: share of clips whose corner
  shows the video watermark (contrast above 40 of 255).
- `zoom-in`: "a red circle" with the zoom-in MotionLoRA vs without: share of clips whose shape grows >= 15%.
  The other camera moves have a row each, measured the same way against the same control: `zoom-out` shrinks
  >= 15%; `pan-left`/`pan-right`/`tilt-up`/`tilt-down` move the shape against the camera (pan-left: the shape
  travels right, at least 4 px); `roll-clockwise`/`roll-anticlockwise` turn the picture the other way by at least
  ROLL_MIN_DEGREES from the first frame to the last (a centred circle cannot show a roll: those seeds miss).
  Each camera row also reports the mean signed effect (`camera_effect`) with and without the LoRA and the share
  of seeds whose LoRA clip goes further the move's way than the same seed's control clip (paired: the motion
  module alone already grows, shrinks and turns shapes, so the thresholds alone flatter or hide a LoRA).
- `ablation-conv1d` (needs `ablation_dir`, made by `scripts/train_ablation.py`): a 1D temporal convolution and
  the transformer, trained the same number of steps on the same clips: share of seeds (same prompt, same noise)
  where the convolution's clip moves less (net travel of the tracked shape); the mean travels are in details.

Every clip goes through `AnimationEngine.generate`, the same path as `animatediff-studio generate`, except the
ablation's: the engine does not generate with a conv1d module, so both of its modules run in diffusers'
`AnimateDiffPipeline` with the engine's DDIM schedule.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.engine.engine import AnimationEngine
from backend.engine.request import GenerationRequest, WeightedFile
from backend.training.motion_measure import (
    area_ratio,
    direction,
    displacement,
    is_outlined,
    median_jump,
    rotation,
    track,
    watermark_contrast,
)
from backend.training.shapes import COLOURS, DIRECTIONS, SHAPES
from models.builtin import BuiltinModel, builtin_model_paths
from models.camera import CAMERA_MOVES

ROWS: tuple[str, ...] = ("direction", "direction-text-response", "direction-without-module", "coherence",
                         "personalized", "watermark", "zoom-in",
                         *(m for m in CAMERA_MOVES if m != "zoom-in"), "ablation-conv1d")
WATERMARK_CONTRAST = 40.0
ZOOM_GROWTH = 1.15
COHERENT_JUMP = 6.0  # px between frames: 3x the training clips' speed (2 px/frame), far under the frame-by-frame jumps
ROLL_MIN_DEGREES = 8.0  # a fifth of the trained roll (camera_synthesis.ROLL, 40 degrees at strength 1)
# Where the picture goes when the camera pans or tilts: against the camera.
PICTURE_TRAVEL = {"pan-left": "right", "pan-right": "left", "tilt-up": "down", "tilt-down": "up"}


def camera_effect(move: str, frames: list) -> float:
    """How far the clip goes in `move`'s direction (the camera's, so the picture moves the other way); negative:
    the opposite way. Zoom: log of the area ratio (in: growing); pan/tilt: net travel in pixels along the
    picture's direction; roll: degrees the picture turns against the camera."""
    if move.startswith("zoom"):
        growth = float(np.log(max(area_ratio(track(frames)), 1e-6)))
        return growth if move == "zoom-in" else -growth
    if move in PICTURE_TRAVEL:
        ax, ay = DIRECTIONS[PICTURE_TRAVEL[move]]
        dx, dy = displacement(track(frames))
        return ax * dx + ay * dy
    turn = rotation(frames[0], frames[-1])  # clockwise positive; a clockwise roll turns the picture anticlockwise
    return -turn if move == "roll-clockwise" else turn


def shows_camera_move(move: str, frames: list) -> bool:
    """Does the clip show `move`: zoom >= 15% in area, pan/tilt as the dominant travel, roll >= 8 degrees?"""
    if move in PICTURE_TRAVEL:
        return direction(track(frames)) == PICTURE_TRAVEL[move]
    threshold = float(np.log(ZOOM_GROWTH)) if move.startswith("zoom") else ROLL_MIN_DEGREES
    return camera_effect(move, frames) >= threshold


@dataclass
class RowResult:
    row: str
    seeds: int
    value: float  # the row's headline share, 0..1
    control: float | None = None  # the same measure without the module under test
    details: dict = field(default_factory=dict)


def _prompt(seed: int, with_direction: bool) -> tuple[str, str | None]:
    colour = list(COLOURS)[seed % len(COLOURS)]
    shape = SHAPES[(seed // len(COLOURS)) % len(SHAPES)]
    if not with_direction:
        return f"a {colour} {shape}", None
    # Every colour meets every direction (seeds 0-3 take directions 0, 1, 2, 3; seeds 4-7 take 1, 2, 3, 0; ...).
    # With the direction at seed % 4 like the colour, each colour always had one direction, and a module that
    # drifts by colour scored as if it read the word.
    move = list(DIRECTIONS)[(seed + seed // len(COLOURS)) % len(DIRECTIONS)]
    return f"a {colour} {shape} moving {move}", move


def identity_motion_module(model: BuiltinModel, folder: Path) -> Path:
    """A zero-initialised module for the built-in base, saved as a file: the base alone, frame by frame."""
    import torch
    from diffusers import UNetMotionModel

    from backend.engine.base_loader import load_base
    from backend.training.motion_module import export_motion_module, new_motion_adapter

    base = load_base(model.base, torch.float32)
    adapter = new_motion_adapter(base.unet)
    unet = UNetMotionModel.from_unet2d(base.unet, adapter)
    return export_motion_module(unet, dict(adapter.config), folder)["original"]


class PaperBenchmark:
    def __init__(self, model: BuiltinModel | None = None, seeds: int = 50, steps: int = 20,
                 log: Callable[[str], None] = print, ablation_dir: Path | None = None) -> None:
        self.model = model or builtin_model_paths()
        self.ablation_dir = ablation_dir
        self.seeds, self.steps, self.log = seeds, steps, log
        self.engine = AnimationEngine(device="cpu")
        self._identity: Path | None = None
        self._plain: dict[int, list] = {}
        self._tmp = tempfile.TemporaryDirectory()

    def _request(self, prompt: str, seed: int, **over) -> GenerationRequest:
        d = self.model.defaults
        fields = dict(prompt=prompt, base=str(self.model.base), motion_module=str(self.model.motion_module),
                      width=d.width, height=d.height, frames=d.frames, steps=self.steps, guidance=d.guidance,
                      seed=seed)
        fields.update(over)
        return GenerationRequest(**fields)

    def _frames(self, req: GenerationRequest) -> list:
        return self.engine.generate(req).frames

    def _directions(self, **over) -> tuple[float, dict]:
        hits, seen = 0, {}
        for seed in range(self.seeds):
            prompt, move = _prompt(seed, True)
            got = direction(track(self._frames(self._request(prompt, seed, **over))))
            hits += got == move
            seen[str(got)] = seen.get(str(got), 0) + 1
        return hits / self.seeds, {"measured_directions": seen}

    def row_direction(self) -> RowResult:
        value, details = self._directions()
        return RowResult("direction", self.seeds, value, None, details)

    def row_direction_text_response(self) -> RowResult:
        shifts, travels = [], []
        for seed in range(self.seeds):
            subject, _ = _prompt(seed, False)
            word, opposite = ("right", "left") if seed % 2 == 0 else ("down", "up")
            ax, ay = DIRECTIONS[word]
            along = []  # travel along `word`'s direction, for each of the two words
            for w in (word, opposite):
                dx, dy = displacement(track(self._frames(self._request(f"{subject} moving {w}", seed))))
                along.append(ax * dx + ay * dy)
                travels.append(float(np.hypot(dx, dy)))
            shifts.append(along[0] - along[1])
        return RowResult("direction-text-response", self.seeds, float(np.mean(np.array(shifts) > 0)), None, {
            "mean_shift_px": round(float(np.mean(shifts)), 2),
            "shift_standard_error_px": round(float(np.std(shifts) / np.sqrt(len(shifts))), 2),
            "mean_travel_px": round(float(np.mean(travels)), 2)})

    def row_direction_without_module(self) -> RowResult:
        value, details = self._directions(motion_module=self._identity_module())
        return RowResult("direction-without-module", self.seeds, value, None, details)

    def _identity_module(self) -> str:
        if self._identity is None:
            self._identity = identity_motion_module(self.model, Path(self._tmp.name))
        return str(self._identity)

    def row_coherence(self) -> RowResult:
        with_module, frame_by_frame = self._clips(), self._clips(motion_module=self._identity_module())
        jumps = np.array([median_jump(track(c)) for c in with_module])
        control = np.array([median_jump(track(c)) for c in frame_by_frame])

        def change(clips: list[list]) -> float:  # mean |pixel difference| of consecutive frames, 0..255
            return float(np.mean([np.abs(np.diff(np.asarray(c, dtype=np.float32), axis=0)).mean() for c in clips]))

        return RowResult("coherence", self.seeds, float(np.mean(jumps < COHERENT_JUMP)),
                         float(np.mean(control < COHERENT_JUMP)), {
                             "smoother_than_frame_by_frame": float(np.mean(jumps < control)),
                             "median_jump_px": round(float(np.median(jumps)), 2),
                             "median_jump_px_frame_by_frame": round(float(np.median(control)), 2),
                             "frame_change": round(change(with_module), 2),
                             "frame_change_frame_by_frame": round(change(frame_by_frame), 2)})

    def row_personalized(self) -> RowResult:
        """Outlined frames with the motion module; control: the same seeds frame by frame (the fine-tune's own
        rate, what the module can at best keep)."""
        shares, hits = [], 0
        for module in (None, self._identity_module()):
            outlined = frames_seen = 0
            for seed in range(self.seeds):
                prompt, move = _prompt(seed, True)
                over = {"base": str(self.model.personalized)} | ({"motion_module": module} if module else {})
                frames = self._frames(self._request(prompt, seed, **over))
                styles = [s for s in (is_outlined(f) for f in frames) if s is not None]
                outlined += sum(styles)
                frames_seen += len(styles)
                if module is None:
                    hits += direction(track(frames)) == move
            shares.append((outlined / max(frames_seen, 1), frames_seen))
        return RowResult("personalized", self.seeds, shares[0][0], shares[1][0],
                         {"direction_accuracy": hits / self.seeds, "frames_with_a_shape": shares[0][1]})

    def _share(self, test: Callable[[list], bool], **over) -> float:
        return sum(bool(test(frames)) for frames in self._clips(**over)) / self.seeds

    def _clips(self, **over) -> list[list]:
        """One clip per seed ("a <colour> <shape>"); without `over`, the control clips the camera rows share."""
        clips = []
        for seed in range(self.seeds):
            prompt, _ = _prompt(seed, False)
            if over:
                clips.append(self._frames(self._request(prompt, seed, **over)))
                continue
            if seed not in self._plain:
                self._plain[seed] = self._frames(self._request(prompt, seed))
            clips.append(self._plain[seed])
        return clips

    def row_watermark(self) -> RowResult:
        def marked(frames: list) -> bool:
            return float(np.mean([watermark_contrast(f) for f in frames])) > WATERMARK_CONTRAST

        # The watermark is per frame: 8 frames tell as much as 16, at half the cost.
        adapter = WeightedFile(str(self.model.domain_adapter), 1.0)
        return RowResult("watermark", self.seeds, self._share(marked, domain_adapter=adapter, frames=8),
                         self._share(marked, frames=8))

    def row_camera(self, move: str) -> RowResult:
        """A camera move's MotionLoRA at scale 1 against the same prompts and seeds without it."""
        if move not in self.model.camera:
            return RowResult(move, 0, float("nan"), None, {"missing": f"no {move} MotionLoRA shipped"})

        lora = WeightedFile(str(self.model.camera[move]), 1.0)
        with_lora, control = self._clips(motion_loras=(lora,)), self._clips()
        effect = np.array([camera_effect(move, f) for f in with_lora])
        plain = np.array([camera_effect(move, f) for f in control])
        unit = "log_area" if move.startswith("zoom") else "px" if move in PICTURE_TRAVEL else "degrees"
        return RowResult(move, self.seeds, float(np.mean([shows_camera_move(move, f) for f in with_lora])),
                         float(np.mean([shows_camera_move(move, f) for f in control])), {
                             # paired, same prompt and noise: does the LoRA push this seed's clip the move's way?
                             "further_than_control": float(np.mean(effect > plain)),
                             f"mean_effect_{unit}": round(float(effect.mean()), 3),
                             f"mean_effect_{unit}_control": round(float(plain.mean()), 3)})

    def row_ablation_conv1d(self) -> RowResult:
        folder = self.ablation_dir
        paths = {v: folder / v / "motion_module.safetensors" for v in ("transformer", "conv1d")} if folder else {}
        if not paths or not all(p.is_file() for p in paths.values()):
            return RowResult("ablation-conv1d", 0, float("nan"), None,
                             {"missing": "run scripts/train_ablation.py, then pass --ablation-dir"})
        pipes = {v: self._ablation_pipe(v, p) for v, p in paths.items()}
        travel: dict[str, list[float]] = {v: [] for v in pipes}
        for seed in range(self.seeds):
            prompt, _ = _prompt(seed, True)
            for variant, pipe in pipes.items():
                dx, dy = displacement(track(self._pipe_frames(pipe, prompt, seed)))
                travel[variant].append(float(np.hypot(dx, dy)))
        less = float(np.mean(np.array(travel["conv1d"]) < np.array(travel["transformer"])))
        return RowResult("ablation-conv1d", self.seeds, less, None, {
            f"mean_travel_px_{v}": round(float(np.mean(t)), 2) for v, t in travel.items()})

    def _ablation_pipe(self, variant: str, path: Path):  # -> AnimateDiffPipeline
        import torch
        from diffusers import AnimateDiffPipeline, UNetMotionModel

        from backend.engine.base_loader import load_base
        from backend.engine.motion_loader import load_motion_module
        from backend.engine.motion_variants import load_conv1d_unet
        from backend.engine.schedulers import make_scheduler

        base = load_base(self.model.base, torch.float32)
        unet = load_conv1d_unet(base.unet, path) if variant == "conv1d" else \
            UNetMotionModel.from_unet2d(base.unet, load_motion_module(path, torch.float32).adapter)
        pipe = AnimateDiffPipeline(vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer,
                                   unet=unet.eval(), motion_adapter=None,
                                   scheduler=make_scheduler("ddim", base.schedule))
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def _pipe_frames(self, pipe, prompt: str, seed: int) -> list:  # noqa: ANN001
        import torch

        d = self.model.defaults
        with torch.inference_mode():
            return pipe(prompt, num_frames=d.frames, height=d.height, width=d.width, num_inference_steps=self.steps,
                        guidance_scale=d.guidance, generator=torch.Generator("cpu").manual_seed(seed)).frames[0]

    def run(self, rows: tuple[str, ...] = ROWS) -> list[RowResult]:
        results = []
        for row in rows:
            t0 = time.perf_counter()
            result = self.row_camera(row) if row in CAMERA_MOVES else getattr(self, "row_" + row.replace("-", "_"))()
            result.details["seconds"] = round(time.perf_counter() - t0, 1)
            self.log(f"{row}: {result.value:.2f}" + (f" (control {result.control:.2f})" if result.control is not None
                                                     else "") + f" {result.details}")
            results.append(result)
        return results


def to_markdown(results: list[RowResult]) -> str:
    lines = ["| row | seeds | measured | control | details |", "|---|---|---|---|---|"]
    for r in results:
        control = "" if r.control is None else f"{r.control:.0%}"
        lines.append(f"| {r.row} | {r.seeds} | {r.value:.0%} | {control} | {json.dumps(r.details)} |")
    return "\n".join(lines)


def write_results(results: list[RowResult], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "paper-benchmark.json").write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    (folder / "paper-benchmark.md").write_text(to_markdown(results) + "\n")
    return folder / "paper-benchmark.md"
