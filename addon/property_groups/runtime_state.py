"""`WindowManager.animatediff`: the connection, the service's model lists and the running job.

Window-manager properties are not saved in blend files: this is the live state of this Blender session.
"""

from bpy.props import CollectionProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import PropertyGroup

CONNECTION_ITEMS = [
    ("DISCONNECTED", "Not Connected", ""),
    ("CONNECTING", "Connecting", ""),
    ("CONNECTED", "Connected", ""),
    ("FAILED", "Failed", ""),
]
JOB_ITEMS = [
    ("IDLE", "Idle", "No generation yet"),
    ("SUBMITTING", "Submitting", "Uploading the pictures and sending the request"),
    ("QUEUED", "Queued", "Waiting for the service's worker"),
    ("RUNNING", "Running", "Generating"),
    ("DOWNLOADING", "Downloading", "Fetching the frames"),
    ("SUCCEEDED", "Succeeded", ""),
    ("FAILED", "Failed", ""),
    ("CANCELLED", "Cancelled", ""),
    ("INTERRUPTED", "Interrupted", "The service stopped while the job ran"),
]
ACTIVE_JOB_STATES = frozenset({"SUBMITTING", "QUEUED", "RUNNING", "DOWNLOADING"})
LEVEL_ITEMS = [("INFO", "Info", ""), ("WARNING", "Warning", ""), ("ERROR", "Error", "")]


class AnimateDiffModelEntry(PropertyGroup):
    """One model file the service has (`name` is what a request sends)."""

    kind: StringProperty(name="Kind")
    path: StringProperty(name="Path", description="Where the file is on the service's machine")
    size_mb: FloatProperty(name="Size (MB)")


class AnimateDiffState(PropertyGroup):
    connection: EnumProperty(name="Connection", items=CONNECTION_ITEMS, default="DISCONNECTED")
    connection_message: StringProperty(name="Connection Message")

    checkpoints: CollectionProperty(type=AnimateDiffModelEntry)
    motion_modules: CollectionProperty(type=AnimateDiffModelEntry)
    loras: CollectionProperty(type=AnimateDiffModelEntry)
    domain_adapters: CollectionProperty(type=AnimateDiffModelEntry)
    motion_loras: CollectionProperty(type=AnimateDiffModelEntry)
    sparsectrl_models: CollectionProperty(type=AnimateDiffModelEntry)

    job_status: EnumProperty(name="Job", items=JOB_ITEMS, default="IDLE")
    job_id: StringProperty(name="Job ID")
    phase: StringProperty(name="Phase")
    step: IntProperty(name="Step")
    total_steps: IntProperty(name="Steps")
    progress: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    cancel_requested: StringProperty(name="Cancel Requested", description="Job id a cancel was sent for")
    preview_image: StringProperty(name="Preview Image", description="Name of the Image showing the live preview")
    message: StringProperty(name="Message", description="The last report, also shown in the sidebar")
    message_level: EnumProperty(name="Level", items=LEVEL_ITEMS, default="INFO")

    @property
    def job_active(self) -> bool:
        return self.job_status in ACTIVE_JOB_STATES


classes = (AnimateDiffModelEntry, AnimateDiffState)
