"""The request the sidebar sends, and the reference picture's bytes, built without a service."""

from __future__ import annotations

import struct
from pathlib import Path

import bpy
import pytest

from tests.addon.conftest import quick_settings


def build() -> dict:
    from addon.generation_request import build_request

    return build_request(bpy.context.scene.animatediff, bpy.context.scene)


def test_defaults_follow_the_scene() -> None:
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 1280, 720, 50
    scene.render.fps, scene.render.fps_base = 24, 1.001  # 23.976 fps
    settings = scene.animatediff
    settings.prompt, settings.base, settings.motion_module = "a fox", "tiny_base", "tiny_mm"
    request = build()
    assert (request["width"], request["height"], request["fps"]) == (640, 360, 24)
    assert (request["frames"], request["steps"], request["guidance"], request["scheduler"]) == (16, 25, 7.5, "ddim")
    assert "camera" not in request and "loras" not in request and "domain_adapter" not in request
    seeds = {build()["seed"] for _ in range(5)}  # Random Seed is on by default: drawn here, so it is recorded
    assert len(seeds) > 1 and all(0 <= s < 2**31 for s in seeds)


def test_models_moves_and_weights_are_sent() -> None:
    scene = bpy.context.scene
    quick_settings(scene, domain_adapter="tiny_adapter", domain_adapter_weight=0.5)
    settings = scene.animatediff
    lora = settings.loras.add()
    lora.model, lora.weight = "tiny_style", 0.7
    for move, strength in (("zoom-in", 0.8), ("pan-left", 1.25)):
        item = settings.camera_moves.add()
        item.move, item.strength = move, strength
    request = build()
    assert request["seed"] == 7
    assert request["loras"] == [{"path": "tiny_style", "weight": 0.7}]
    assert request["domain_adapter"] == {"path": "tiny_adapter", "weight": 0.5}
    assert request["camera"] == [{"move": "zoom-in", "strength": 0.8}, {"move": "pan-left", "strength": 1.25}]


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: setattr(s.loras.add(), "model", ""),
     "Image LoRA 1: '' is not accepted; expected a LoRA from the service's list, or remove the row"),
    (lambda s: [setattr(s.camera_moves.add(), "move", "tilt-up") for _ in range(2)],
     "Camera Moves: 'tilt-up' is not accepted; expected each move at most once"),
    (lambda s: setattr(s, "motion_module", ""), "Motion Module: '' is not accepted; expected a motion module"),
])
def test_refusals_name_the_setting_and_value(change, message: str) -> None:  # noqa: ANN001
    from addon.generation_request import SettingsError

    quick_settings(bpy.context.scene)
    change(bpy.context.scene.animatediff)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        build()


def test_image_file_bytes(tmp_path: Path) -> None:
    from addon.reference_frames import ReferenceImageError, image_file_bytes

    scene = bpy.context.scene
    scene.render.image_settings.file_format = "JPEG"
    generated = bpy.data.images.new("painted", 40, 30)
    png = image_file_bytes(generated, scene)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (40, 30)

    generated.filepath_raw, generated.file_format = str(tmp_path / "on_disk.png"), "PNG"
    generated.save()
    from_disk = bpy.data.images.load(str(tmp_path / "on_disk.png"))
    assert image_file_bytes(from_disk, scene) == (tmp_path / "on_disk.png").read_bytes()  # the file itself

    generated.filepath_raw, generated.file_format = str(tmp_path / "deep.exr"), "OPEN_EXR"
    generated.save()
    exr = bpy.data.images.load(str(tmp_path / "deep.exr"))
    converted = image_file_bytes(exr, scene)  # not a format the service takes: sent as PNG
    assert converted[:4] == b"\x89PNG" and struct.unpack(">II", converted[16:24]) == (40, 30)
    assert scene.render.image_settings.file_format == "JPEG"  # the scene's own output settings are put back

    missing = bpy.data.images.load(str(tmp_path / "on_disk.png"), check_existing=False)
    (tmp_path / "on_disk.png").unlink()
    missing.reload()
    with pytest.raises(ReferenceImageError, match="has no pixels"):
        image_file_bytes(missing, scene)
