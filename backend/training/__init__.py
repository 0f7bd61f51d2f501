"""Training the AnimateDiff paper's three modules (domain adapter, motion module, MotionLoRA) and the built-in model.

One concept per file:
- `shapes.py`: procedural scenes of coloured shapes, their captions and clips of them moving.
- `camera_synthesis.py`: camera moves (zoom, pan, tilt, roll) made from stills or clips by a moving crop window.
- `clip_folder.py`: a user's folder of clips (mp4/webm/gif, frame folders) with captions; bad files reported.
- `motion_measure.py`: a shape tracker that measures the motion in frames (tests and the benchmark use it).
- `datasets.py`: torch datasets over the sources above (clips, single frames, stills).
- `config.py`: typed training configs, read from a JSON/TOML file plus flags, validated field by field.
- `diffusion.py`: the noise-prediction objective shared by every trainer (linear 0.00085-0.012 schedule).
- `loop.py`: the `accelerate` training loop (checkpoints, resume, samples, loss log, progress and cancel).
- `lora_files.py`: LoRA weights to and from files in the diffusers and the original AnimateDiff layouts.
- `checkpoints.py`: resumable training checkpoints (safetensors + a tensors-only optimizer state).
- `lora_task.py`: what the two LoRA trainers share (peft LoRA, its state, its export).
- `domain_adapter.py`, `motion_module.py`, `motion_lora.py`: the three trainers.
- `trainers.py`: `run_trainer(TrainConfig)`, the one entry point (CLI, service, desktop).
- `sampling.py`: sample pictures/clips rendered during training.
- `base_model.py`: the built-in model's base (VAE, UNet + CLIP text encoder) trained from scratch.
- `builtin_recipe.py`: the seeded recipe of the built-in model, stage by stage (`scripts/train_builtin.py`).
- `paper_benchmark.py`: the paper's claims measured on the built-in model (`scripts/paper_benchmark.py`).
- `plotting.py`: the loss curve as CSV and PNG.
"""
