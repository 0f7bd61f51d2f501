"""Install the built extension zip into a fresh Blender and generate through it (run in a subprocess by
test_build_addon.py, away from the repository: only the zip's own files, vendored client included, are there).

    python installed_extension_check.py ZIP SERVICE_URL TOKEN   ->  prints a JSON report on its last line
"""

from __future__ import annotations

import importlib
import json
import sys
import time

import bpy

addon_utils = importlib.import_module("addon_utils")  # Blender's module: importable once bpy is
PACKAGE = "bl_ext.user_default.animatediff_studio"


def main(zip_path: str, url: str, token: str) -> dict:
    assert bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default",
                                                    enable_on_install=True) == {"FINISHED"}
    background = importlib.import_module(f"{PACKAGE}.background")
    service_client = importlib.import_module(f"{PACKAGE}.service_client")
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.address, prefs.token = url, token

    settings = bpy.context.scene.animatediff
    settings.prompt, settings.base, settings.motion_module = "a red ball bouncing", "tiny_base", "tiny_mm"
    settings.frames, settings.steps, settings.use_random_seed, settings.seed = 4, 2, False, 3
    settings.use_scene_size = False
    settings.width = settings.height = 64
    assert bpy.ops.animatediff.connect() == {"FINISHED"}
    _drain(background)
    state = bpy.context.window_manager.animatediff
    connected = (state.connection, state.connection_message, [m.name for m in state.checkpoints])
    assert bpy.ops.animatediff.generate() == {"FINISHED"}
    _drain(background)

    state, image = bpy.context.window_manager.animatediff, settings.result_image
    report = {
        "client_module": service_client.client_module().__file__,
        "repository_importable": importlib.util.find_spec("backend") is not None,
        "connection": connected[0],
        "connection_message": connected[1],
        "models": connected[2],
        "job_status": state.job_status,
        "message": state.message,
        "image_filepath": image.filepath if image else None,
        "image_source": image.source if image else None,
        "frames": image.animatediff.frames if image else 0,
    }
    addon_utils.disable(PACKAGE, default_set=True)  # removes the timer: bpy 4.5 would hang at exit otherwise
    report["timer_left"] = bpy.app.timers.is_registered(background.drain)
    return report


def _drain(background) -> None:  # noqa: ANN001 - the add-on's background module
    deadline = time.monotonic() + 240
    while background.drain() is not None:
        assert time.monotonic() < deadline, "background work did not finish"
        time.sleep(0.02)


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
