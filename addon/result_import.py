"""Bring a finished clip into the scene: an image-sequence Image, and, as chosen, the scene camera's
background, a plane with an emission material, a Video Sequencer image strip, the scene's fps and range.

The Image carries how the clip was made (`Image.animatediff`), so "Generate Again" and "Vary Seed" work
from it later, also after the blend file was saved and opened again.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
from bpy.types import CameraBackgroundImage, Image, ImageUser, Object, Scene

PLANE_HEIGHT = 1.0  # metres; the width follows the clip's aspect ratio
MAX_CHANNEL = 128  # the Video Sequencer's channel count


@dataclass(frozen=True)
class ImportOptions:
    """What to make of the clip besides the Image datablock (the sidebar's Import settings)."""

    camera_background: bool = True
    plane: bool = False
    strip: bool = False
    set_scene_fps: bool = False
    set_frame_range: bool = False


@dataclass
class ImportedClip:
    image: Image
    camera_background: CameraBackgroundImage | None = None
    plane: Object | None = None
    strip: Any = None  # bpy.types.ImageStrip (ImageSequence before Blender 4.4)
    notes: list[str] = field(default_factory=list)  # what was asked for but could not be done, and why


def import_clip(scene: Scene, frame_paths: list[Path], *, job_id: str, request: dict[str, Any], start_frame: int,
                options: ImportOptions, relative: bool = False) -> ImportedClip:
    """Import `frame_paths` (frames/0000.png ... of one job) starting at `start_frame` of `scene`."""
    if not frame_paths:
        raise ValueError(f"job {job_id}: the service returned no frames")
    frames, fps = len(frame_paths), int(request.get("fps", 8))
    image = load_image_sequence(frame_paths, clip_name(request), relative)
    info = image.animatediff
    info.job_id, info.request_json = job_id, json.dumps(request, sort_keys=True)
    seed = request.get("seed")
    if isinstance(seed, int) and 0 <= seed < 2**31:  # an integer property; the JSON keeps any seed exactly
        info.seed = seed
    info.frames, info.fps, info.start_frame = frames, fps, start_frame
    info.directory = str(frame_paths[0].parent)

    clip = ImportedClip(image)
    if options.camera_background:
        if scene.camera is None or scene.camera.type != "CAMERA":
            clip.notes.append("the scene has no camera, so the clip was not set as a camera background")
        else:
            clip.camera_background = set_camera_background(scene.camera, image, frames, start_frame)
    if options.plane:
        clip.plane = add_plane(scene, image, frames, start_frame)
    if options.strip:
        clip.strip = add_strip(scene, frame_paths, image.name, start_frame)
    if options.set_scene_fps:
        scene.render.fps, scene.render.fps_base = fps, 1.0
    if options.set_frame_range:
        scene.frame_start, scene.frame_end = start_frame, start_frame + frames - 1
    return clip


def clip_name(request: dict[str, Any]) -> str:
    words = " ".join(str(request.get("prompt", "")).split()[:6])
    return f"AnimateDiff {words}"[:60].rstrip()


def load_image_sequence(frame_paths: list[Path], name: str, relative: bool) -> Image:
    image = bpy.data.images.load(str(frame_paths[0]), check_existing=False)
    image.name = name
    image.source = "SEQUENCE"
    if relative and bpy.data.filepath:
        with contextlib.suppress(ValueError):  # on another drive (Windows): keep the absolute path
            image.filepath = bpy.path.relpath(str(frame_paths[0]))
    return image


def configure_image_user(user: ImageUser, frames: int, start_frame: int) -> None:
    """Play the sequence's `frames` files from scene frame `start_frame`, one file per frame."""
    user.frame_duration = frames
    user.frame_start = start_frame
    user.frame_offset = -1  # the service numbers files from 0000; Blender's first sequence frame is 1
    user.use_auto_refresh = True


def set_camera_background(camera: Object, image: Image, frames: int, start_frame: int) -> CameraBackgroundImage:
    """Show the clip behind the camera view; a slot holding an earlier clip is reused, not stacked."""
    data = camera.data
    data.show_background_images = True
    slot = next((bg for bg in data.background_images
                 if bg.source == "IMAGE" and bg.image is not None and bg.image.animatediff.job_id), None)
    if slot is None:
        slot = data.background_images.new()
    slot.source = "IMAGE"
    slot.image = image
    slot.alpha = 1.0
    slot.frame_method = "FIT"
    configure_image_user(slot.image_user, frames, start_frame)
    return slot


def add_plane(scene: Scene, image: Image, frames: int, start_frame: int) -> Object:
    """An upright plane facing -Y at the 3D cursor, as wide as the clip's aspect ratio, glowing with the clip."""
    width_px, height_px = image.size
    half_h = PLANE_HEIGHT / 2
    half_w = half_h * width_px / height_px if height_px else half_h
    mesh = bpy.data.meshes.new(image.name)
    mesh.from_pydata([(-half_w, 0, -half_h), (half_w, 0, -half_h), (half_w, 0, half_h), (-half_w, 0, half_h)],
                     [], [(0, 1, 2, 3)])
    uv = mesh.uv_layers.new(name="UVMap")
    for loop, coords in zip(mesh.polygons[0].loop_indices, ((0, 0), (1, 0), (1, 1), (0, 1)), strict=True):
        uv.data[loop].uv = coords
    mesh.update()
    mesh.materials.append(emission_material(image, frames, start_frame))
    plane = bpy.data.objects.new(image.name, mesh)
    plane.location = scene.cursor.location
    scene.collection.objects.link(plane)
    return plane


def emission_material(image: Image, frames: int, start_frame: int) -> bpy.types.Material:
    """Image Texture -> Emission -> Material Output: the clip shows as is, unaffected by the scene's lights."""
    material = bpy.data.materials.new(image.name)
    if bpy.app.version < (5, 0, 0):  # from 5.0 materials always use nodes (and `use_nodes` is deprecated)
        material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    nodes.clear()
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    configure_image_user(texture.image_user, frames, start_frame)
    emission = nodes.new("ShaderNodeEmission")
    output = nodes.new("ShaderNodeOutputMaterial")
    texture.location, emission.location, output.location = (-400, 0), (-100, 0), (150, 0)
    links.new(texture.outputs["Color"], emission.inputs["Color"])
    links.new(emission.outputs["Emission"], output.inputs["Surface"])
    return material


def scene_strips(scene: Scene):  # noqa: ANN201 - bpy.types.SequencesTopLevel / StripsTopLevel
    """The Video Sequencer's top-level strips (`strips` from Blender 4.4, `sequences` before, gone in 5.0)."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def add_strip(scene: Scene, frame_paths: list[Path], name: str, start_frame: int):  # noqa: ANN201
    """An image strip of the frames at `start_frame`, on the lowest channel that is free there."""
    strips = scene_strips(scene)
    end = start_frame + len(frame_paths)
    busy = {s.channel for s in strips if s.frame_final_start < end and s.frame_final_end > start_frame}
    channel = next((c for c in range(1, MAX_CHANNEL + 1) if c not in busy), MAX_CHANNEL)
    strip = strips.new_image(name=name, filepath=str(frame_paths[0]), channel=channel, frame_start=start_frame)
    for path in frame_paths[1:]:
        strip.elements.append(path.name)
    return strip
