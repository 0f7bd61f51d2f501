"""The recipe of the built-in model: every stage, its data, its settings and its seed, in order.

Stages (each reads the previous stages' outputs from the work folder and is skipped when its output exists):

1. `vae`: the autoencoder on stills and video frames; the latent scaling factor is calibrated after.
2. `text-encoder`: the CLIP text encoder pretrained so its end-of-text/padding outputs name every word of the
   caption (what SD's pretrained CLIP gives; `text_encoder_pretrain.py`), then frozen as SD's is.
3. `base`: the UNet from scratch on photo-like stills, half of them of shapes in motion with the motion named
   in the caption (so the frozen base carries the motion words to the motion module); cosine-decayed rate.
4. `domain-adapter`: a LoRA on the frozen base's attention, on single frames of the watermarked clips.
5. `motion-module`: a `MotionAdapter` on 16-frame clips, base frozen, the domain adapter merged (paper, v3).
6. `personalized`: the base's UNet fine-tuned on outlined shapes, a style no other stage saw.
7. `motion-loras`: one MotionLoRA per camera move, each from 40 stills turned into clips of that move.
8. `domain-adapter-finish`: the domain adapter's run continued from its last checkpoint to more steps: the
   module and the MotionLoRAs trained on the adapter as stage 4 left it, the shipped adapter is this one.
9. `decoder`: the VAE decoder fine-tuned on whole pictures with the encoder fixed (better colours; every
   stage above trained on the encoder's latents, which do not change).
10. `ship`: fp16 safetensors into `models/builtin/` (see `models/builtin/__init__.py`).

`scripts/train_builtin.py` runs it; every number below is what produced the shipped files.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset

from backend.engine.noise_schedule import SD15_SCHEDULE, NoiseSchedule
from backend.training.config import DataConfig, TrainConfig
from backend.training.datasets import ProceduralStills, ProceduralVideoFrames
from backend.training.loop import LoopSettings, TrainingProgress, run_training
from backend.training.trainers import run_trainer
from models.camera import CAMERA_MOVES

SEED = 20240806
CANVAS = 64
FRAMES = 16
STAGES: tuple[str, ...] = ("vae", "text-encoder", "base", "domain-adapter", "motion-module", "personalized",
                           "motion-loras", "domain-adapter-finish", "decoder", "ship")
# `RecipeSettings.v_prediction`: the base on v-prediction with zero-terminal-SNR betas instead of SD1.5's epsilon
# on the linear schedule, whose t=999 keeps 4% of the clip (a trial, docs/builtin-model.md; not the shipped run).
V_PREDICTION = NoiseSchedule("v_prediction", zero_terminal_snr=True)
_VIRTUAL = 1_000_000  # procedural data sets are as long as asked; no item is ever repeated in practice


@dataclass(frozen=True)
class RecipeSettings:
    """Steps per stage (the defaults are the shipped run's); `scale` shrinks all of them for a smoke run."""

    vae_steps: int = 160
    text_encoder_steps: int = 600
    decoder_steps: int = 150
    base_steps: int = 1300
    adapter_steps: int = 300  # what the motion module and the MotionLoRAs train on (merged into the base)
    # The shipped adapter: the same run continued. The corner mark in 44% / 54% / 90% of clips at scale 1 at
    # 120 / 300 / 1000 steps (the `watermark` row; frame by frame 34% at 300, 100% at 1000).
    adapter_finish_steps: int = 1000
    motion_steps: int = 1200
    motion_lora_steps: int = 1000  # zoom-in, the benchmark's headline move
    camera_lora_steps: int = 400  # every other move (zoom-in: 48% at 300 steps, 52% at 1000)
    # 120: 12% of animated frames outlined, 360: 20%, 720: 26%, 1440: 32% (the `personalized` row; the last two
    # with the balanced direction prompts; 2880: 33%, a plateau)
    personalized_steps: int = 1440
    scale: float = 1.0
    # One thread: with other jobs on the two cores, two OpenMP threads ran 2x slower than one (measured).
    threads: int = 1
    moves: tuple[str, ...] = CAMERA_MOVES  # the MotionLoRAs this run trains (two runs can share the moves out)
    # Trials (the shipped run: False, 0.0): the base on V_PREDICTION; empty captions for the adapter, module, LoRAs.
    v_prediction: bool = False
    caption_dropout: float = 0.0
    ship_to: Path | None = None  # where `ship` writes (default models/builtin/; a trial's folder for the benchmark)
    log: Callable[[str], None] = field(default=print, compare=False)

    def steps(self, name: str) -> int:
        return max(2, round(getattr(self, f"{name}_steps") * self.scale))


def _progress(log: Callable[[str], None], stage: str, every: int = 25) -> Callable[[TrainingProgress], None]:
    def report(p: TrainingProgress) -> None:
        if p.step % every == 0 or p.step == p.total:
            log(f"[{stage}] step {p.step}/{p.total} loss {p.loss:.4f} ({p.seconds:.0f} s, "
                f"{p.seconds / max(p.step, 1):.2f} s/step)")
    return report


def _record(work: Path, stage: str, result, extra: dict | None = None) -> None:
    """Append what a stage measured to work/stages.json (docs/builtin-model.md reports it)."""
    path = work / "stages.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    losses = [r.loss for r in result.losses]
    head, tail = losses[: max(1, len(losses) // 10)], losses[-max(1, len(losses) // 10):]
    # Over the whole stage, resumed parts included (the loss rows carry the cumulative seconds).
    steps = result.losses[-1].step if result.losses else 0
    seconds = result.losses[-1].seconds if result.losses else result.seconds
    data[stage] = {"steps": steps, "seconds": round(seconds, 1), "s_per_step": round(seconds / max(steps, 1), 3),
                   "loss_first_10pct": round(sum(head) / len(head), 5) if head else None,
                   "loss_last_10pct": round(sum(tail) / len(tail), 5) if tail else None, **(extra or {})}
    path.write_text(json.dumps(data, indent=2))


def stage_vae(work: Path, s: RecipeSettings) -> None:
    from backend.training.base_model import VaeTask, calibrate_scaling_factor

    torch.manual_seed(SEED)
    task = VaeTask()
    data = ConcatDataset([ProceduralStills(_VIRTUAL, CANVAS, SEED + 1),
                          ProceduralVideoFrames(_VIRTUAL, CANVAS, FRAMES, SEED + 2)])
    settings = LoopSettings(steps=s.steps("vae"), learning_rate=2e-3, batch_size=32, seed=SEED, device="cpu",
                            checkpoint_every=50, sample_every=80, log_every=10)
    result = run_training(task, data, settings, work / "vae", resume=True, on_progress=_progress(s.log, "vae"))
    probe = torch.stack([data[i]["pixels"] for i in range(0, 256)])
    task.vae.eval()
    factor = calibrate_scaling_factor(task.vae, probe)
    task.vae.save_pretrained(work / "vae" / "vae")
    _record(work, "vae", result, {"scaling_factor": round(factor, 4)})
    s.log(f"[vae] scaling factor {factor:.4f}")


def stage_text_encoder(work: Path, s: RecipeSettings) -> None:
    from backend.training.base_model import load_tokenizer, new_text_encoder
    from backend.training.text_encoder_pretrain import GrammarCaptions, TextEncoderTask, words_apart

    torch.manual_seed(SEED + 5)
    tokenizer = load_tokenizer()
    task = TextEncoderTask(new_text_encoder(), tokenizer)
    settings = LoopSettings(steps=s.steps("text_encoder"), learning_rate=1e-3, batch_size=64, seed=SEED + 7,
                            device="cpu", checkpoint_every=200, log_every=10)
    result = run_training(task, GrammarCaptions(_VIRTUAL, SEED + 6), settings, work / "text-encoder", resume=True,
                          on_progress=_progress(s.log, "text-encoder", 100))
    task.text_encoder.eval()
    apart = {f"{a} vs {b}": round(words_apart(task.text_encoder, tokenizer, f"a red circle {a}", f"a red circle {b}"),
                                  3)
             for a, b in (("moving left", "moving right"), ("moving up", "moving down"), ("growing", "shrinking"))}
    _record(work, "text-encoder", result, {"padding_apart": apart})
    s.log(f"[text-encoder] padding outputs apart: {apart}")


def stage_base(work: Path, s: RecipeSettings) -> None:
    from diffusers import AutoencoderKL
    from transformers import CLIPTextModel

    from backend.training.base_model import TextToImageTask, load_tokenizer, new_unet

    torch.manual_seed(SEED + 10)
    vae = AutoencoderKL.from_pretrained(work / "vae" / "vae").eval()
    text_encoder = CLIPTextModel.from_pretrained(work / "text-encoder" / "text_encoder").eval()
    task = TextToImageTask(new_unet(), vae, text_encoder, load_tokenizer(), train_text_encoder=False,
                           caption_dropout=0.1, name="base",
                           schedule=V_PREDICTION if s.v_prediction else SD15_SCHEDULE)
    data = ProceduralStills(_VIRTUAL, CANVAS, SEED + 11, motion_share=0.5)
    # Decayed to 0: 300 more steps at a tenth of the rate cut the held-out loss of a constant-rate base by 12%.
    settings = LoopSettings(steps=s.steps("base"), learning_rate=1e-3, batch_size=32, lr_warmup_steps=30,
                            lr_schedule="cosine", seed=SEED + 12, device="cpu", checkpoint_every=100,
                            sample_every=300, log_every=10)
    result = run_training(task, data, settings, work / "base", resume=True, on_progress=_progress(s.log, "base"))
    _record(work, "base", result)


def _config(kind: str, work: Path, **fields) -> TrainConfig:
    return TrainConfig(kind=kind, output_dir=str(work / kind), base=str(work / "base" / "pipeline"), resume=True,
                       **fields)


def _adapter_config(work: Path, s: RecipeSettings, steps: int) -> TrainConfig:
    # A constant rate and data drawn by (seed, step): the run continued to more steps is the longer run.
    return _config("domain-adapter", work, rank=8, sample_prompt="a red circle", caption_dropout=s.caption_dropout,
                   data=DataConfig(source="synthetic", count=_VIRTUAL, frames=FRAMES, size=CANVAS, seed=SEED + 20),
                   loop=LoopSettings(steps=steps, learning_rate=1e-3, batch_size=32, seed=SEED + 21,
                                     device="cpu", checkpoint_every=50, sample_every=100, log_every=10))


def stage_domain_adapter(work: Path, s: RecipeSettings) -> None:
    config = _adapter_config(work, s, s.steps("adapter"))
    _record(work, "domain-adapter", run_trainer(config, on_progress=_progress(s.log, "domain-adapter"), log=s.log))


def stage_domain_adapter_finish(work: Path, s: RecipeSettings) -> None:
    """The adapter's run resumed from stage 4's last checkpoint and trained on to `adapter_finish_steps`. The
    module and the MotionLoRAs keep the adapter they trained on, so a stronger shipped adapter retrains neither.
    With no checkpoint to start from (a work folder seeded from the shipped model), the same seeded run goes from
    step 0, which passes through the same state at `adapter_steps`."""
    from backend.training.checkpoints import list_checkpoints

    out = work / "domain-adapter-finish"
    if not list_checkpoints(out) and (found := list_checkpoints(work / "domain-adapter")):
        shutil.copytree(found[-1], out / "checkpoints" / found[-1].name)
        shutil.copy2(work / "domain-adapter" / "loss.csv", out / "loss.csv")  # the rows up to the checkpoint
    config = dataclasses.replace(_adapter_config(work, s, s.steps("adapter_finish")), output_dir=str(out))
    _record(work, "domain-adapter-finish",
            run_trainer(config, on_progress=_progress(s.log, "domain-adapter-finish"), log=s.log))


def motion_module_config(work: Path, steps: int, out: Path | None = None, variant: str = "transformer",
                         caption_dropout: float = 0.0) -> TrainConfig:
    """Stage 4's run (also the ablation's, with another variant and folder: same clips, seed and schedule)."""
    config = _config("motion-module", work, domain_adapter=str(work / "domain-adapter" / "domain_adapter.safetensors"),
                     motion_variant=variant, caption_dropout=caption_dropout,
                     data=DataConfig(source="synthetic", count=_VIRTUAL, frames=FRAMES, size=CANVAS, seed=SEED + 30),
                     loop=LoopSettings(steps=steps, learning_rate=1e-3, batch_size=2, lr_warmup_steps=20,
                                       seed=SEED + 31, device="cpu", checkpoint_every=100, sample_every=200,
                                       log_every=10))
    return config if out is None else dataclasses.replace(config, output_dir=str(out))


def stage_motion_module(work: Path, s: RecipeSettings) -> None:
    config = motion_module_config(work, s.steps("motion"), caption_dropout=s.caption_dropout)
    _record(work, "motion-module", run_trainer(config, on_progress=_progress(s.log, "motion-module"), log=s.log))


def stage_motion_loras(work: Path, s: RecipeSettings) -> None:
    """One MotionLoRA per camera move, 40 procedural scenes each, zoom-in first (the benchmark's)."""
    for i, move in enumerate(sorted(CAMERA_MOVES, key=lambda m: m != "zoom-in")):
        out = work / "motion-loras" / move
        if move not in s.moves or (out / "motion_lora.safetensors").is_file():
            continue
        steps = s.steps("motion_lora" if move == "zoom-in" else "camera_lora")
        config = TrainConfig(
            kind="motion-lora", output_dir=str(out), base=str(work / "base" / "pipeline"), resume=True,
            motion_module=str(work / "motion-module" / "motion_module.safetensors"),
            domain_adapter=str(work / "domain-adapter" / "domain_adapter.safetensors"), rank=8,
            sample_prompt="a red circle", sample_steps=8, caption_dropout=s.caption_dropout,
            data=DataConfig(source="camera", camera_move=move, count=40, frames=FRAMES, size=CANVAS,
                            seed=SEED + 40 + i),
            loop=LoopSettings(steps=steps, learning_rate=1e-3, batch_size=2, seed=SEED + 50 + i,
                              device="cpu", checkpoint_every=30, log_every=10))
        _record(work, f"motion-lora {move}", run_trainer(config, on_progress=_progress(s.log, move, 20), log=s.log))


def stage_personalized(work: Path, s: RecipeSettings) -> None:
    """A DreamBooth-style full fine-tune of the base UNet on outlined shapes (text encoder frozen)."""
    from backend.engine.base_loader import load_base
    from backend.training.base_model import TextToImageTask

    torch.manual_seed(SEED + 60)
    base = load_base(work / "base" / "pipeline", torch.float32)
    task = TextToImageTask(base.unet, base.vae.requires_grad_(False), base.text_encoder, base.tokenizer,
                           train_text_encoder=False, caption_dropout=0.1, name="personalized",
                           schedule=base.schedule)
    data = ProceduralStills(_VIRTUAL, CANVAS, SEED + 61, style="outlined", motion_share=0.5)
    settings = LoopSettings(steps=s.steps("personalized"), learning_rate=5e-4, batch_size=32, seed=SEED + 62,
                            device="cpu", checkpoint_every=50, sample_every=100, log_every=10)
    result = run_training(task, data, settings, work / "personalized", resume=True,
                          on_progress=_progress(s.log, "personalized"))
    _record(work, "personalized", result)


def stage_decoder(work: Path, s: RecipeSettings) -> None:
    from diffusers import AutoencoderKL

    from backend.training.base_model import VaeTask

    torch.manual_seed(SEED + 70)
    vae = AutoencoderKL.from_pretrained(work / "vae" / "vae")
    task = VaeTask(vae, crop=None, decoder_only=True)
    data = ConcatDataset([ProceduralStills(_VIRTUAL, CANVAS, SEED + 71),
                          ProceduralStills(_VIRTUAL, CANVAS, SEED + 72, style="outlined"),
                          ProceduralVideoFrames(_VIRTUAL, CANVAS, FRAMES, SEED + 73)])
    settings = LoopSettings(steps=s.steps("decoder"), learning_rate=1e-3, batch_size=16, seed=SEED + 74,
                            device="cpu", checkpoint_every=50, sample_every=75, log_every=10)
    result = run_training(task, data, settings, work / "decoder", resume=True, on_progress=_progress(s.log, "decoder"))
    task.vae.save_pretrained(work / "decoder" / "vae")
    _record(work, "decoder", result)


def stage_ship(work: Path, s: RecipeSettings) -> None:
    """fp16 safetensors into models/builtin/: folders without the tokenizer (the shipped SD1.5 one is used)."""
    from models.builtin import BUILTIN_DIR

    target = s.ship_to or BUILTIN_DIR
    for name, source in (("base", work / "base" / "pipeline"), ("personalized", work / "personalized" / "pipeline")):
        if not source.is_dir():
            s.log(f"[ship] {source} missing, {name} not shipped")
            continue
        shutil.rmtree(target / name, ignore_errors=True)
        shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("tokenizer"))
        if (work / "decoder" / "vae").is_dir():  # the fine-tuned decoder, same encoder
            from diffusers import AutoencoderKL

            shutil.rmtree(target / name / "vae")
            decoder = AutoencoderKL.from_pretrained(work / "decoder" / "vae")
            decoder.to(torch.float16).save_pretrained(target / name / "vae")
    _half_file(work / "motion-module" / "motion_module.safetensors", target / "motion_module.safetensors")
    _half_file(shipped_adapter(work), target / "domain_adapter.safetensors")
    shutil.rmtree(target / "motion-loras", ignore_errors=True)
    for move in CAMERA_MOVES:
        source = work / "motion-loras" / move / "motion_lora.safetensors"
        if source.is_file():
            _half_file(source, target / "motion-loras" / f"{move}.safetensors")
    stages = json.loads((work / "stages.json").read_text()) if (work / "stages.json").is_file() else {}
    manifest = {"defaults": {"width": CANVAS, "height": CANVAS, "frames": FRAMES, "steps": 20, "guidance": 4.0},
                "seed": SEED, "recipe": "backend/training/builtin_recipe.py", "stages": stages}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
    s.log(f"[ship] {sum(p.stat().st_size for p in target.rglob('*') if p.is_file()) / 1e6:.1f} MB in {target}")


def shipped_adapter(work: Path) -> Path:
    """The finished adapter where that stage ran, else the one the module trained on (an older work folder)."""
    finished = work / "domain-adapter-finish" / "domain_adapter.safetensors"
    return finished if finished.is_file() else work / "domain-adapter" / "domain_adapter.safetensors"


def seed_from_shipped(work: Path, log: Callable[[str], None] = print) -> None:
    """Fill an empty work folder from models/builtin/, so one stage can be retrained without rerunning those
    before it. The pipelines are copied as they are (fp16, as the stages left them; trainers load them in fp32),
    the single files go back to the fp32 the stages write (fp16 -> fp32 -> fp16 is exact: files no stage
    retrains ship unchanged)."""
    from models.builtin import BUILTIN_DIR

    for name, target in (("base", work / "base" / "pipeline"), ("personalized", work / "personalized" / "pipeline")):
        if not target.is_dir():
            shutil.copytree(BUILTIN_DIR / name, target)
    # The shipped adapter is the finished one; the one the module trained on (step `adapter_steps` of the same
    # run) is not shipped: the domain-adapter stage (4 min) remakes it before a module or MotionLoRA retrains.
    for stage, name in (("motion-module", "motion_module"), ("domain-adapter-finish", "domain_adapter")):
        if not (work / stage / f"{name}.safetensors").is_file():
            _cast_file(BUILTIN_DIR / f"{name}.safetensors", work / stage / f"{name}.safetensors", torch.float32)
    for lora in sorted((BUILTIN_DIR / "motion-loras").glob("*.safetensors")):
        target = work / "motion-loras" / lora.stem / "motion_lora.safetensors"
        if not target.is_file():
            _cast_file(lora, target, torch.float32)
    if not (work / "stages.json").is_file():
        stages = json.loads((BUILTIN_DIR / "manifest.json").read_text()).get("stages", {})
        (work / "stages.json").write_text(json.dumps(stages, indent=2))
    log(f"[seed] {work} filled from {BUILTIN_DIR}")


def write_model_variant(target: Path, loras: Path, motion_module: Path | None = None) -> list[str]:
    """A copy of models/builtin with the MotionLoRAs of `loras/<move>/motion_lora.safetensors` (and another
    motion module) in place of the shipped ones: what `paper_benchmark.py --model-dir` measures for a trial.
    Never removes: two runs sharing the moves out both write it, each adding the LoRAs done by then."""
    from models.builtin import BUILTIN_DIR

    shutil.copytree(BUILTIN_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "motion-loras"),
                    dirs_exist_ok=True)
    if motion_module is not None:
        _half_file(motion_module, target / "motion_module.safetensors")
    for lora in sorted(loras.glob("*/motion_lora.safetensors")):
        _half_file(lora, target / "motion-loras" / f"{lora.parent.name}.safetensors")
    return sorted(p.stem for p in (target / "motion-loras").glob("*.safetensors"))


def _half_file(source: Path, target: Path) -> None:
    _cast_file(source, target, torch.float16)


def _cast_file(source: Path, target: Path, dtype: torch.dtype) -> None:
    from safetensors.torch import load_file, save_file

    target.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in load_file(str(source)).items()}
    save_file(state, str(target))


RUNNERS: dict[str, Callable[[Path, RecipeSettings], None]] = {
    "vae": stage_vae, "text-encoder": stage_text_encoder, "base": stage_base, "domain-adapter": stage_domain_adapter,
    "motion-module": stage_motion_module, "motion-loras": stage_motion_loras, "personalized": stage_personalized,
    "domain-adapter-finish": stage_domain_adapter_finish, "decoder": stage_decoder, "ship": stage_ship,
}


def stage_done(work: Path, stage: str) -> bool:
    marker = {"vae": work / "vae" / "vae" / "config.json",
              "text-encoder": work / "text-encoder" / "text_encoder" / "config.json",
              "base": work / "base" / "pipeline" / "unet",
              "domain-adapter": work / "domain-adapter" / "domain_adapter.safetensors",
              "domain-adapter-finish": work / "domain-adapter-finish" / "domain_adapter.safetensors",
              "motion-module": work / "motion-module" / "motion_module.safetensors",
              "personalized": work / "personalized" / "pipeline" / "unet",
              "decoder": work / "decoder" / "vae" / "config.json"}
    if stage == "motion-loras":  # every move (removing one move's folder retrains just that one)
        return all((work / "motion-loras" / m / "motion_lora.safetensors").exists() for m in CAMERA_MOVES)
    path = marker.get(stage)
    return path is not None and path.exists()


def run_recipe(work: Path, stages: list[str], settings: RecipeSettings) -> None:
    torch.set_num_threads(settings.threads)
    work.mkdir(parents=True, exist_ok=True)
    for stage in stages:
        if stage_done(work, stage):
            settings.log(f"[{stage}] already done, skipped")
            continue
        t0 = time.perf_counter()
        settings.log(f"[{stage}] start")
        RUNNERS[stage](work, settings)
        settings.log(f"[{stage}] done in {time.perf_counter() - t0:.0f} s")
