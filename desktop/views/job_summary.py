"""One line a user can scan for a job in Queue & history: its models, size, settings and clip options."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def describe_parameters(request: dict[str, Any], seed: int | None) -> str:
    """Models, size, frames, steps, guidance, scheduler, fps, seed, then what the clip starts from (references,
    SparseCtrl, video, a source clip) and the long-clip options."""
    parts = [f"{request.get('base', '?')} + {request.get('motion_module', '?')}",
             f"{request.get('width')}x{request.get('height')}", f"{request.get('frames')} frames",
             f"{request.get('steps')} steps", f"cfg {request.get('guidance')}", str(request.get("scheduler", "")),
             f"{request.get('fps')} fps", f"seed {seed if seed is not None else request.get('seed') or 'random'}"]
    camera = request.get("camera") or []
    if camera:
        parts.append("camera " + ", ".join(f"{c['move']} {c.get('strength', 1.0):g}" for c in camera))
    references = request.get("references") or []
    if references:
        frames = ", ".join(str(r.get("frame", 0)) for r in references)
        sparsectrl = request.get("sparsectrl")
        how = (f"SparseCtrl {Path(sparsectrl['path']).name} x{sparsectrl.get('weight', 1.0):g}" if sparsectrl
               else f"strength {request.get('reference_strength', 0.8):g}")
        parts.append(f"{len(references)} reference(s) at frame {frames}, {how}")
    if request.get("video"):
        parts.append(f"video {len(request['video'])} frames, strength {request.get('video_strength', 0.8):g}")
    if request.get("extend"):
        source = Path(str(request["extend"])).name[:8]  # a job id, or the service's folder named by it
        parts.append(f"extends {source} (overlap {request.get('extend_overlap', 4)})")
    if request.get("context_length"):
        extras = [name for key, name in (("closed_loop", "closed loop"), ("free_noise", "FreeNoise"))
                  if request.get(key)]
        parts.append(f"windows {request['context_length']}/{request.get('context_overlap', 4)} "
                     f"{request.get('context_weighting', 'pyramid')}" + "".join(f", {e}" for e in extras))
    if request.get("free_init"):
        parts.append(f"FreeInit {request['free_init']}")
    if request.get("deep_cache"):
        parts.append(f"DeepCache every {request['deep_cache']}")
    if request.get("prompt_at"):
        parts.append("prompts at " + ", ".join(str(p.get("frame")) for p in request["prompt_at"]))
    return " · ".join(parts)


def describe_training(request: dict[str, Any], model: str | None) -> str:
    """One line for a training in the history: models, data, move, steps, and the result's name."""
    kind = request.get("kind", "motion-lora")  # requests stored before other kinds existed have none
    images = request.get("images") or []
    data = f"{len(images)} pictures" if images else f"clips in {request.get('data_path', '?')}"
    models = " + ".join(str(request[k]) for k in ("base", "motion_module") if request.get(k)) or "?"
    parts = [models, data]
    if kind == "motion-lora":
        parts.append(request.get("camera_move") or "the clips' motion")
    parts += [f"{request.get('steps')} steps", f"lr {request.get('learning_rate')}",
              f"{request.get('frames')} frames at {request.get('size')} px"]
    if kind != "motion-module":
        parts.insert(3 if kind == "motion-lora" else 2, f"rank {request.get('rank')}")
    if model:
        parts.append(f"-> {model}")
    return ", ".join(parts)
