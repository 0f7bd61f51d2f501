"""The add-on's user interface: the 3D Viewport sidebar tab (preferences draw themselves)."""

from . import sidebar

classes = sidebar.classes
