"""Container image names, tagged with the one project version."""

from __future__ import annotations

import os

from components._shared.version import __version__

#: Registry/repository of the runtime image (components) and the serving image.
#: Override with ``KFX_IMAGE_REPO`` when *building/compiling* for your own registry.
DEFAULT_IMAGE_REPO = "ghcr.io/kfx-ml"


def _repo() -> str:
    return os.environ.get("KFX_IMAGE_REPO", DEFAULT_IMAGE_REPO).rstrip("/")


def runtime_image(version: str = __version__) -> str:
    """Image every training component runs in (``components/Dockerfile``)."""
    return f"{_repo()}/kfx-runtime:{version}"


def serving_image(version: str = __version__) -> str:
    """Image of kfx's KServe predictor (``components/serving.Dockerfile``)."""
    return f"{_repo()}/kfx-serving:{version}"
