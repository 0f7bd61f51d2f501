"""`Scene.animatediff`: what the sidebar edits, saved with the blend file.

Ranges mirror what the service accepts (backend/engine/request.py); the service checks again and names
the field when something is out of range, so the two never silently disagree.
"""

from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)
from bpy.types import Image, PropertyGroup, Scene

from ..camera_analysis import CAMERA_MOVE_LABELS, CAMERA_MOVES

SCHEDULERS = ("ddim", "euler", "euler-ancestral", "dpm++-2m-karras", "lcm")
MAX_SEED = 2**31 - 1  # Blender integer properties are 32-bit; the service accepts up to 2**63 - 1

CAMERA_MOVE_ITEMS = [(move, CAMERA_MOVE_LABELS[move], f"Camera move {move}") for move in CAMERA_MOVES]
SCHEDULER_ITEMS = [(name, name, f"The {name} sampler") for name in SCHEDULERS]
REFERENCE_ITEMS = [
    ("NONE", "None", "Generate from the prompt alone"),
    ("IMAGE", "Image", "Start the clip from an Image datablock"),
    ("RENDER", "Render Current Frame", "Render the scene's current frame and start the clip from it"),
]


class AnimateDiffWeightedModel(PropertyGroup):
    """A model file applied with a weight (an image LoRA)."""

    model: StringProperty(name="LoRA", description="Name of the LoRA in the service's model store")
    weight: FloatProperty(name="Weight", default=1.0, min=-4.0, max=4.0, soft_min=-2.0, soft_max=2.0)


class AnimateDiffCameraMove(PropertyGroup):
    """One camera move of the MotionLoRA vocabulary with its strength."""

    move: EnumProperty(name="Move", items=CAMERA_MOVE_ITEMS, default="zoom-in")
    strength: FloatProperty(name="Strength", description="0: off, 1: as trained, up to 2", default=1.0,
                            min=0.0, max=2.0)


class AnimateDiffSettings(PropertyGroup):
    """The generation request as the sidebar shows it, plus how to bring the result into the scene."""

    # Text
    prompt: StringProperty(name="Prompt", description="What the clip shows", default="")
    negative_prompt: StringProperty(name="Negative Prompt", description="What the clip should avoid", default="")

    # Models, by their names in the service's model store
    base: StringProperty(name="Model", description="SD1.5 base or personalized (DreamBooth/CivitAI) checkpoint")
    motion_module: StringProperty(name="Motion Module", description="AnimateDiff motion module")
    domain_adapter: StringProperty(name="Domain Adapter",
                                   description="AnimateDiff v3 domain adapter (optional; empty: none)")
    domain_adapter_weight: FloatProperty(name="Adapter Scale", default=1.0, min=0.0, max=1.0)
    loras: CollectionProperty(type=AnimateDiffWeightedModel, name="Image LoRAs")
    active_lora_index: IntProperty(name="Active LoRA", default=0)

    # Sampling
    seed: IntProperty(name="Seed", default=42, min=0, max=MAX_SEED)
    use_random_seed: BoolProperty(name="Random Seed", description="Draw a new seed for every generation "
                                  "(the seed used is stored on the imported Image)", default=True)
    steps: IntProperty(name="Steps", default=25, min=1, max=200)
    guidance: FloatProperty(name="Guidance", default=7.5, min=0.0, max=30.0)
    frames: IntProperty(name="Frames", default=16, min=1, max=1024, soft_max=64)
    scheduler: EnumProperty(name="Sampler", items=SCHEDULER_ITEMS, default="ddim")
    use_scene_size: BoolProperty(name="Size from Scene", description="Width and height from the scene's render "
                                 "size (including its percentage), rounded to multiples of 8", default=True,
                                 update=lambda self, context: copy_scene_size(self, context.scene))
    width: IntProperty(name="Width", default=512, min=64, max=2048, step=8, subtype="PIXEL")
    height: IntProperty(name="Height", default=512, min=64, max=2048, step=8, subtype="PIXEL")
    use_scene_fps: BoolProperty(name="Frame Rate from Scene", default=True,
                                update=lambda self, context: copy_scene_fps(self, context.scene))
    fps: IntProperty(name="Frame Rate", default=8, min=1, max=60)

    # Camera motion
    camera_moves: CollectionProperty(type=AnimateDiffCameraMove, name="Camera Moves")
    active_camera_move_index: IntProperty(name="Active Camera Move", default=0)

    # Reference frame (the clip's start frame)
    reference_mode: EnumProperty(name="Reference", items=REFERENCE_ITEMS, default="NONE")
    reference_image: PointerProperty(type=Image, name="Reference Image")
    reference_strength: FloatProperty(
        name="Denoising Strength", default=0.8, min=0.0, max=1.0,
        description="How much the clip may depart from the reference: 0 keeps it, 1 ignores it")

    # Import of the result
    output_directory: StringProperty(name="Output Folder", subtype="DIR_PATH", default="//AnimateDiff/",
                                     description="Where the frames are saved (// is the blend file's folder; an "
                                                 "unsaved file uses the add-on's own folder)")
    import_camera_background: BoolProperty(name="Camera Background", default=True,
                                           description="Show the clip behind the scene camera's view")
    import_plane: BoolProperty(name="Plane", default=False,
                               description="Add a plane with an emission material showing the clip")
    import_strip: BoolProperty(name="Sequencer Strip", default=False,
                               description="Add an image strip to the Video Sequencer at the start frame")
    set_scene_fps: BoolProperty(name="Set Scene Frame Rate", default=False)
    set_frame_range: BoolProperty(name="Set Frame Range", default=False,
                                  description="Make the scene's frame range the clip's")

    # The last imported result ("Generate Again", "Vary Seed" work from it)
    result_image: PointerProperty(type=Image, name="Result",
                                  poll=lambda self, image: bool(image.animatediff.request_json))


def scene_size(scene: Scene) -> tuple[int, int]:
    """The scene's output size in pixels, each side rounded to the nearest multiple of 8 within 64..2048."""
    render = scene.render
    scale = render.resolution_percentage / 100
    return _snap8(render.resolution_x * scale), _snap8(render.resolution_y * scale)


def _snap8(value: float) -> int:
    return min(2048, max(64, int(value / 8 + 0.5) * 8))


def scene_fps(scene: Scene) -> int:
    return max(1, min(60, round(scene.render.fps / scene.render.fps_base)))


def copy_scene_size(settings: AnimateDiffSettings, scene: Scene) -> None:
    """Turning "Size from Scene" off starts the manual size from the scene's (the documented default)."""
    if not settings.use_scene_size:
        settings.width, settings.height = scene_size(scene)


def copy_scene_fps(settings: AnimateDiffSettings, scene: Scene) -> None:
    if not settings.use_scene_fps:
        settings.fps = scene_fps(scene)


def effective_size(settings: AnimateDiffSettings, scene: Scene) -> tuple[int, int]:
    return scene_size(scene) if settings.use_scene_size else (settings.width, settings.height)


def effective_fps(settings: AnimateDiffSettings, scene: Scene) -> int:
    return scene_fps(scene) if settings.use_scene_fps else settings.fps


classes = (AnimateDiffWeightedModel, AnimateDiffCameraMove, AnimateDiffSettings)
