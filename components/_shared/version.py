"""The one kfx version: drives the package, the runtime image tag and the compiled-pipeline folder."""

__version__ = "0.1.0"
