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

from ..camera_analysis import CAMERA_MOVE_LABELS, CAMERA_MOVES, frame_range

SCHEDULERS = ("ddim", "euler", "euler-ancestral", "dpm++-2m-karras", "lcm")
CONTEXT_WEIGHTINGS = ("pyramid", "flat")
MAX_FRAMES = 1024  # the service's limit on a clip's frames
MAX_FREE_INIT = 5
MAX_SEED = 2**31 - 1  # Blender integer properties are 32-bit; the service accepts up to 2**63 - 1

CAMERA_MOVE_ITEMS = [(move, CAMERA_MOVE_LABELS[move], f"Camera move {move}") for move in CAMERA_MOVES]
SCHEDULER_ITEMS = [(name, name, f"The {name} sampler") for name in SCHEDULERS]
MAX_DEEP_CACHE = 10  # the service's (backend.engine.request_checks); 1 is refused there and here
REFERENCE_ITEMS = [
    ("NONE", "None", "Generate from the prompt alone"),
    ("IMAGE", "Image", "Start the clip from an Image datablock"),
    ("RENDER", "Render Current Frame", "Render the scene's current frame and start the clip from it"),
    ("RANGE", "Render Frame Range", "Render every frame of the scene's frame range and restyle it "
              "(video-to-video): the clip gets as many frames as the range"),
]
END_REFERENCE_ITEMS = [
    ("NONE", "None", "Only the first reference picture"),
    ("IMAGE", "Image", "The clip's last frame comes from an Image datablock"),
    ("RENDER_END", "Render End Frame", "Render the last frame of the scene's frame range for the clip's last frame"),
]
WEIGHTING_ITEMS = [
    ("pyramid", "Pyramid", "Overlapping windows count most in their middle, where their context is two-sided"),
    ("flat", "Flat", "Overlapping windows count equally"),
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


class AnimateDiffPromptAt(PropertyGroup):
    """Prompt travel: this prompt holds from `frame` on (the main prompt holds at frame 0)."""

    frame: IntProperty(name="Frame", description="The clip frame this prompt holds from (1 to frames - 1)",
                       default=8, min=1, max=MAX_FRAMES - 1)
    prompt: StringProperty(name="Prompt", description="What the clip shows from this frame on", default="")


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
    deep_cache: IntProperty(name="Feature Cache", default=0, min=0, max=MAX_DEEP_CACHE,
                            description="DeepCache, faster and slightly different: the whole UNet runs every N-th "
                                        "step only, its outer blocks on every step (0: off; 2 to 10)")
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
        description="How much the clip may depart from the reference (or the rendered frame range): 0 keeps it, "
                    "1 ignores it")
    reference_frame: IntProperty(name="At Frame", default=0, min=-MAX_FRAMES, max=MAX_FRAMES - 1,
                                 description="The clip frame the reference picture is pinned to (0: the first; "
                                             "negative counts from the end, -1 is the last)")
    end_reference_mode: EnumProperty(name="End Reference", items=END_REFERENCE_ITEMS, default="NONE")
    end_reference_image: PointerProperty(type=Image, name="End Image")
    sparsectrl: StringProperty(name="SparseCtrl", description="SparseCtrl model (RGB or scribble; optional): the "
                               "reference pictures then condition their frames through it instead of starting the "
                               "clip; empty: none")
    sparsectrl_weight: FloatProperty(name="SparseCtrl Weight", default=1.0, min=0.0, max=2.0,
                                     description="SparseCtrl's conditioning scale: 0 is the plain clip")

    # Long clips: sliding context windows, FreeNoise, FreeInit
    context_length: IntProperty(name="Context Length", default=0, min=0, max=MAX_FRAMES, soft_max=32,
                                description="Denoise in sliding windows of this many frames, so that clips longer "
                                            "than the motion module's length work and memory stays flat (0: off; "
                                            "16, the modules' training length, is the usual choice)")
    context_overlap: IntProperty(name="Overlap", default=4, min=0, max=MAX_FRAMES - 1,
                                 description="Frames shared by neighbouring windows")
    context_weighting: EnumProperty(name="Fuse", items=WEIGHTING_ITEMS, default="pyramid")
    closed_loop: BoolProperty(name="Closed Loop", default=False,
                              description="Windows wrap past the end to the first frames: a seamless loop")
    free_noise: BoolProperty(name="FreeNoise", default=False,
                             description="Later windows reuse the first window's noise, shuffled: more consistent "
                                         "content across windows")
    free_init: IntProperty(name="FreeInit", default=0, min=0, max=MAX_FREE_INIT,
                           description="Extra refining rounds from low-pass re-initialised noise (0: off; each "
                                       "round costs a full run; text-to-video only)")

    # Prompt travel
    prompt_at: CollectionProperty(type=AnimateDiffPromptAt, name="Prompt Travel")
    active_prompt_at_index: IntProperty(name="Active Prompt", default=0)

    # Continuing an imported clip ("Extend" in the Result panel)
    extend_frames: IntProperty(name="New Frames", default=16, min=1, max=MAX_FRAMES,
                               description="Frames to add after the clip's last frame")
    extend_overlap: IntProperty(name="Overlap", default=4, min=1, max=64,
                                description="The clip's last frames the continuation starts from")

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


def range_frames(scene: Scene) -> list[int]:
    """The scene frames "Render Frame Range" renders: the frame (or preview) range, by the scene's frame step."""
    start, end = frame_range(scene)
    return list(range(start, end + 1, max(1, scene.frame_step)))


def effective_frames(settings: AnimateDiffSettings, scene: Scene) -> int:
    """The clip's length: the rendered frame range's for video-to-video, else the Frames setting."""
    return len(range_frames(scene)) if settings.reference_mode == "RANGE" else settings.frames


classes = (AnimateDiffWeightedModel, AnimateDiffCameraMove, AnimateDiffPromptAt, AnimateDiffSettings)
