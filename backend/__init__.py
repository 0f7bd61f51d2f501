"""The local generation service. The only package that imports torch/diffusers (lazily)."""

__version__ = "0.1.0"
