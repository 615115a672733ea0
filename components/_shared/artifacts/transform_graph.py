"""The transform graph artifact (kind ``transform_graph``): a ``tft.TFTransformOutput`` directory plus kfx's facts.

Layout::

    <dir>/transform_fn/              the TF Transform graph (SavedModel)
    <dir>/transformed_metadata/      schema of the transformed features
    <dir>/metadata/                  the raw schema (``TFTransformOutput.raw_feature_spec()`` reads it; the trainer's
                                     raw-feature serving signatures are built from it)
    <dir>/transform.json             {"raw_label_keys": [...], "optional_features": [...], "lineage": {...}}: the raw
                                     columns that are labels (never serving inputs), the columns the data shows can
                                     be missing, and what the graph was made from (data URI + sha256 + rows, the
                                     examples/schema/statistics URIs; keys of ``components/_shared/lineage.py``)

TFT owns the first three names; this module is the one place kfx joins names onto the artifact's path.
"""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf

from components._shared.artifacts import read_json, register_filesystem, write_json

TRANSFORM_META = "transform.json"
RAW_METADATA_DIR = "metadata"  # tft.TFTransformOutput.RAW_METADATA_DIR
TEMP_DIR = ".tft_tmp"  # Beam/TFT scratch space when the artifact is remote (removed after the run)


def raw_metadata_dir(transform_graph_dir: str) -> str:
    return os.path.join(transform_graph_dir, RAW_METADATA_DIR)


def temp_dir(transform_graph_dir: str) -> str:
    return os.path.join(transform_graph_dir, TEMP_DIR)


def write_raw_schema(transform_graph_dir: str, schema: Any) -> None:
    """The raw schema next to the transform graph (``metadata/``), as ``TFTransformOutput`` expects it."""
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema), raw_metadata_dir(transform_graph_dir))


def write_transform_meta(transform_graph_dir: str, meta: dict[str, Any]) -> None:
    write_json(os.path.join(transform_graph_dir, TRANSFORM_META), meta)


def read_transform_meta(transform_graph_dir: str) -> dict[str, Any]:
    """``transform.json`` of a transform graph artifact, or {} (a graph written before kfx recorded it)."""
    register_filesystem(transform_graph_dir)
    path = os.path.join(transform_graph_dir, TRANSFORM_META)
    return read_json(path) if tf.io.gfile.exists(path) else {}
