"""The model layouts: the kfx model artifact, and the two layouts a model is pushed to for serving.

kfx model artifact (kind ``model``; the train step's output, also a pushed ``kfx`` runtime model)::

    <dir>/saved_model/        Keras SavedModel with the signatures named in ``components._shared.artifacts``
    <dir>/model.json          {"label_key", "task", "raw_label_keys", "version", ...}
    <dir>/logs/               TensorBoard logs (train only; never pushed)

TF Serving layout (a model pushed for KServe's ``tensorflow`` runtime)::

    <dir>/1/                  the SavedModel itself (TF Serving loads the highest numeric version folder)
    <dir>/model.json          as above (TF Serving ignores non-numeric entries)

Every reader of a model directory, wherever it comes from (a train output, a pushed model, a resolved baseline),
finds its SavedModel through :func:`saved_model_dir`, so the layouts are known here and nowhere else.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

import tensorflow as tf

from components._shared.artifacts import read_json, register_filesystem, write_json

SAVED_MODEL_DIR = "saved_model"
LOGS_DIR = "logs"
MODEL_META = "model.json"
SAVED_MODEL_PB = "saved_model.pb"
TF_SERVING_VERSION = "1"

KFX_LAYOUT = "kfx"
TF_SERVING_LAYOUT = "tensorflow"
LAYOUTS = (KFX_LAYOUT, TF_SERVING_LAYOUT)


def join(root: str, *parts: str) -> str:
    """``root``/parts for a local path or any gfile URI (``s3://``, ``gs://``)."""
    return posixpath.join(root.rstrip("/"), *parts) if "://" in root else os.path.join(root, *parts)


def saved_model_subdir(layout: str) -> str:
    """Where the SavedModel sits inside a model directory of ``layout``."""
    if layout not in LAYOUTS:
        raise ValueError(f"model layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return SAVED_MODEL_DIR if layout == KFX_LAYOUT else TF_SERVING_VERSION


def layout_of(model_dir: str) -> str | None:
    """Which layout ``model_dir`` holds (``kfx`` or ``tensorflow``), or None when it holds no SavedModel."""
    register_filesystem(model_dir)
    for layout in LAYOUTS:
        if tf.io.gfile.exists(join(model_dir, saved_model_subdir(layout), SAVED_MODEL_PB)):
            return layout
    return None


def saved_model_dir(model_dir: str) -> str:
    """The SavedModel directory inside a model directory of either layout; a FileNotFoundError naming both."""
    layout = layout_of(model_dir)
    if layout is None:
        raise FileNotFoundError(
            f"no SavedModel in {model_dir}: expected {join(model_dir, SAVED_MODEL_DIR, SAVED_MODEL_PB)} (a kfx model "
            f"artifact) or {join(model_dir, TF_SERVING_VERSION, SAVED_MODEL_PB)} (a model pushed for TF Serving)"
        )
    return join(model_dir, saved_model_subdir(layout))


def read_model_meta(model_dir: str) -> dict[str, Any]:
    """``model.json`` of a model directory (either layout), or {} when it has none."""
    register_filesystem(model_dir)
    path = join(model_dir, MODEL_META)
    return read_json(path) if tf.io.gfile.exists(path) else {}


def write_model_meta(model_dir: str, meta: dict[str, Any]) -> None:
    write_json(join(model_dir, MODEL_META), meta)
