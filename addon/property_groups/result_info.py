"""`Image.animatediff`: how an imported clip was made, stored on its Image so it can be made again."""

import json
from typing import Any

from bpy.props import IntProperty, StringProperty
from bpy.types import PropertyGroup


class AnimateDiffResult(PropertyGroup):
    """The request as sent (with the seed used), the job and where the frames are. Saved with the blend file."""

    job_id: StringProperty(name="Job ID")
    request_json: StringProperty(name="Request", description="The generation request as JSON, with its seed")
    seed: IntProperty(name="Seed", min=0)
    frames: IntProperty(name="Frames", min=0)
    fps: IntProperty(name="Frame Rate", min=0)
    start_frame: IntProperty(name="Start Frame")
    directory: StringProperty(name="Frames Folder", subtype="DIR_PATH")

    @property
    def request(self) -> dict[str, Any]:
        return json.loads(self.request_json) if self.request_json else {}


classes = (AnimateDiffResult,)
