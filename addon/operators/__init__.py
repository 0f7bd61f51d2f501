"""The add-on's operators (`animatediff.*`)."""

from . import camera, connect, generate, lists, result

classes = (*connect.classes, *generate.classes, *result.classes, *lists.classes, *camera.classes)
