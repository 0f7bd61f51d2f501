"""`animatediff-studio generate`: options -> `GenerationRequest` -> engine -> outputs, with a progress bar."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from models.camera import CAMERA_MOVES


def weighted(text: str) -> tuple[str, float]:
    """`FILE:WEIGHT` -> (FILE, WEIGHT); a path with a colon and no number (C:\\x) keeps weight 1."""
    head, sep, tail = text.rpartition(":")
    if sep:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return text, 1.0


def _at_frame(text: str) -> dict[str, object]:
    """`IMAGE@FRAME` -> {"image", "frame"}; a path with an `@` and no integer after it keeps frame 0."""
    head, sep, tail = text.rpartition("@")
    if sep and tail.lstrip("-").isdigit():
        return {"image": head, "frame": int(tail)}
    return {"image": text, "frame": 0}


def add_generate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate an animation", description="Generate an animation clip.")
    p.add_argument("prompt", nargs="?", help="what the clip shows")
    p.add_argument("--negative-prompt", "-n", default="")
    p.add_argument("--base", help="SD1.5-family base: diffusers folder, .safetensors/.ckpt, or a store name "
                                  "(without --base and --motion-module: the built-in model)")
    p.add_argument("--motion-module", help="motion module: .ckpt/.safetensors (v1/v2/v3) or diffusers folder")
    p.add_argument("--camera", action="append", default=[], metavar="MOVE:STRENGTH",
                   help=f"camera move, repeatable; moves: {', '.join(CAMERA_MOVES)}")
    p.add_argument("--motion-lora", action="append", default=[], metavar="FILE:STRENGTH")
    p.add_argument("--lora", action="append", default=[], metavar="FILE:WEIGHT", help="image LoRA (kohya etc.)")
    p.add_argument("--domain-adapter", metavar="FILE:SCALE", help="v3 domain adapter with a scale 0..1")
    p.add_argument("--reference", action="append", default=[], metavar="IMAGE[@FRAME]",
                   help="start the clip from this picture at FRAME (default 0; -1 is the last frame); repeatable: "
                        "frames between two references start from a blend")
    p.add_argument("--sparsectrl", metavar="FILE[:WEIGHT]",
                   help="SparseCtrl RGB or scribble model: the references condition their frames through it "
                        "(v3_sd15_sparsectrl_rgb.ckpt ...) instead of starting the clip")
    p.add_argument("--reference-strength", type=float, default=0.8,
                   help="how much the clip may depart from the references, 0..1 (img2img strength; default 0.8)")
    p.add_argument("--video", action="append", default=[], metavar="DIR|FILE",
                   help="video-to-video: restyle this video file or folder of frames (or repeat for single frames)")
    p.add_argument("--strength", type=float, default=0.8,
                   help="how much the clip may depart from --video, 0..1 (img2img strength; default 0.8)")
    p.add_argument("--prompt-at", action="append", default=[], metavar="FRAME:TEXT",
                   help="prompt travel: this prompt from FRAME on (the main prompt holds at frame 0); repeatable")
    p.add_argument("--context-length", type=int, default=0,
                   help="sliding context windows of this many frames for clips longer than the module's "
                        "length (16 is the usual choice; default 0: none)")
    p.add_argument("--context-overlap", type=int, default=4, help="frames shared by neighbouring windows")
    p.add_argument("--context-weighting", default="pyramid", help="flat or pyramid (default)")
    p.add_argument("--closed-loop", action="store_true", help="windows wrap around: the clip loops seamlessly")
    p.add_argument("--free-noise", action="store_true", help="FreeNoise: windows start from shuffled shared noise")
    p.add_argument("--free-init", type=int, default=0, metavar="N", help="FreeInit: N extra refining rounds")
    p.add_argument("--extend", type=Path, metavar="CLIP_DIR",
                   help="continue this finished clip by --frames frames (its model, prompt and size by default)")
    p.add_argument("--extend-overlap", type=int, default=4, help="source frames the continuation starts from")
    p.add_argument("--width", type=int, default=None, help="default 512 (built-in model: 64; --extend: the clip's)")
    p.add_argument("--height", type=int, default=None, help="default 512 (built-in model: 64; --extend: the clip's)")
    p.add_argument("--frames", type=int, default=None, help="default 16")
    p.add_argument("--steps", type=int, default=None, help="default 25 (the built-in model: 20)")
    p.add_argument("--guidance", type=float, default=None, help="default 7.5 (the built-in model: 4)")
    p.add_argument("--guidance-rescale", type=float, default=0.0,
                   help="0-1, against over-exposure at strong guidance on zero-terminal-SNR bases (0.7 is the "
                        "paper's; default 0: off)")
    p.add_argument("--seed", type=int, help="random when omitted (recorded in metadata.json)")
    p.add_argument("--scheduler", default="ddim")
    p.add_argument("--fps", type=int, default=8)
    p.add_argument("--precision", default="auto", help="auto, fp32, fp16 or bf16")
    p.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best available)")
    p.add_argument("--decode-chunk-size", type=int, default=4, help="frames per VAE decode call")
    # backend.engine.request.MEMORY_PLANS (not imported: the desktop bundle's CLI ships without the engine)
    p.add_argument("--memory-plan", default="auto", choices=("auto", "off", "model-offload"),
                   help="auto: predict the peak memory and pick guidance batching, decode chunk, CPU offload, "
                        "windows that fit; off: as asked; model-offload: as asked, one model on the GPU at a time")
    p.add_argument("--memory-limit", type=int, default=0, metavar="MIB",
                   help="plan for at most this much device memory (default: what the device has free)")
    p.add_argument("--deep-cache", type=int, default=0, metavar="N",
                   help="speed/quality trade: the whole UNet every N-th step, only its outer blocks in between, "
                        "reusing the deep features (DeepCache; 0: off, 2-10)")
    p.add_argument("--from-metadata", type=Path, metavar="METADATA_JSON",
                   help="repeat a clip: take every parameter (and the seed) from its metadata.json")
    p.add_argument("--out", type=Path, default=Path("clip"), help="output folder (default ./clip)")
    p.set_defaults(func=run_generate)


def request_from_args(args: argparse.Namespace):  # -> GenerationRequest (import kept lazy)
    from backend.engine.request import GenerationRequest
    from models.errors import InvalidInputError

    if args.from_metadata:
        return GenerationRequest.from_dict(json.loads(args.from_metadata.read_text())["request"])
    # A continuation takes what it does not say from the clip it continues.
    source = json.loads((args.extend / "metadata.json").read_text())["request"] \
        if args.extend and (args.extend / "metadata.json").is_file() else {}
    for name in ("prompt", "base", "motion_module", "width", "height"):
        if getattr(args, name) is None:
            setattr(args, name, source.get(name))
    defaults = {"width": 512, "height": 512, "frames": 16, "steps": 25, "guidance": 7.5}
    if args.base is None and args.motion_module is None:
        defaults = _use_builtin_model(args, defaults)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("prompt", "base", "motion_module"):
        if not getattr(args, name):
            flag = "PROMPT" if name == "prompt" else "--" + name.replace("_", "-")
            raise InvalidInputError(f"{name}: missing; give {flag}", field=name)
    camera = []
    for text in args.camera:
        move, strength = weighted(text)
        camera.append({"move": move, "strength": strength})
    return GenerationRequest.from_dict({
        "prompt": args.prompt,
        "negative_prompt": args.negative_prompt,
        "base": args.base,
        "motion_module": args.motion_module,
        "camera": camera,
        "motion_loras": [dict(zip(("path", "weight"), weighted(t), strict=True)) for t in args.motion_lora],
        "loras": [dict(zip(("path", "weight"), weighted(t), strict=True)) for t in args.lora],
        "domain_adapter": dict(zip(("path", "weight"), weighted(args.domain_adapter), strict=True))
        if args.domain_adapter else None,
        "width": args.width, "height": args.height, "frames": args.frames, "steps": args.steps,
        "guidance": args.guidance, "guidance_rescale": args.guidance_rescale, "seed": args.seed,
        "scheduler": args.scheduler, "fps": args.fps,
        "precision": args.precision, "decode_chunk_size": args.decode_chunk_size,
        "memory_plan": args.memory_plan, "memory_limit_mb": args.memory_limit, "deep_cache": args.deep_cache,
        "references": [_at_frame(t) for t in args.reference], "reference_strength": args.reference_strength,
        "sparsectrl": dict(zip(("path", "weight"), weighted(args.sparsectrl), strict=True))
        if args.sparsectrl else None,
        "prompt_at": [_prompt_at(t) for t in args.prompt_at],
        "context_length": args.context_length, "context_overlap": args.context_overlap,
        "context_weighting": args.context_weighting, "closed_loop": args.closed_loop, "free_noise": args.free_noise,
        "free_init": args.free_init, "video": list(args.video), "video_strength": args.strength,
        "extend": str(args.extend.resolve()) if args.extend else None, "extend_overlap": args.extend_overlap,
    })


def _use_builtin_model(args: argparse.Namespace, defaults: dict[str, float]) -> dict[str, float]:
    """No model named: the built-in one (shipped in models/builtin), with the size and settings it was made for."""
    from models.builtin import builtin_model_paths
    from models.errors import InvalidInputError

    builtin = builtin_model_paths()
    if not builtin.exists():
        raise InvalidInputError("base: missing; give --base and --motion-module (the built-in model is not "
                                f"installed in {builtin.base.parent})", field="base")
    args.base, args.motion_module = str(builtin.base), str(builtin.motion_module)
    d = builtin.defaults
    return {**defaults, "width": d.width, "height": d.height, "frames": d.frames, "steps": d.steps,
            "guidance": d.guidance}


def _prompt_at(text: str) -> dict[str, object]:
    """`FRAME:TEXT` -> {"frame", "prompt"}; the text may hold colons itself."""
    from models.errors import InvalidInputError

    head, sep, tail = text.partition(":")
    if not sep or not head.strip().isdigit():
        raise InvalidInputError(f"--prompt-at: {text!r} is not accepted; expected FRAME:TEXT, e.g. 8:a blue square",
                                field="prompt_at")
    return {"frame": int(head), "prompt": tail.strip()}


def run_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from backend.engine.engine import AnimationEngine
    from backend.engine.outputs import write_outputs
    from backend.engine.progress import Progress

    req = request_from_args(args)
    bar = tqdm(total=req.steps, unit="step", file=sys.stderr, desc="loading", leave=True)

    def on_progress(p: Progress) -> None:
        bar.set_description(p.phase)
        if p.phase == "denoising" and p.step:
            bar.update(p.step - bar.n)

    try:
        result = AnimationEngine(device=args.device).generate(req, on_progress=on_progress)
    finally:
        bar.close()
    meta = write_outputs(result, args.out)
    t = result.timings
    print(f"wrote {len(result.frames)} frames, animation.mp4, animation.gif and metadata.json to {args.out} "
          f"(seed {meta['seed']}, {t['per_step']:.3f} s/step on {result.device})")
    return 0
