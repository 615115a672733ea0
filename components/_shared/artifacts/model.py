"""The model layouts: the kfx model artifact, and the two layouts a model is pushed to for serving.

kfx model artifact (kind ``model``; the train step's output, also a pushed ``kfx`` runtime model)::

    <dir>/saved_model/        Keras SavedModel with the signatures named in ``components._shared.artifacts``
    <dir>/model.json          {"label_key", "task", "raw_label_keys", "version", ...}
    <dir>/logs/               TensorBoard logs (train only; never pushed)

TF Serving layout (a model pushed for KServe's ``tensorflow`` runtime)::

    <dir>/1/                  the SavedModel itself (TF Serving loads the highest numeric version folder)
    <dir>/model.json          as above (TF Serving ignores non-numeric entries)

A pushed model (either layout) also holds ``kfx-push.json`` ({"digest", "runtime", "source"}), written last: a
directory that has it holds every other file. The files a push copies are :func:`push_sources`: the
:func:`serving_files` of the kfx artifact (``saved_model/**`` and ``model.json``; never ``logs/``), its
``lineage.json``, and the training evidence (the statistics and schema artifacts the model was trained on, as
``evidence/statistics/<split>/FeatureStats.pb`` and ``evidence/schema/schema.pbtxt``), each placed at
:func:`pushed_path`. The push digest covers all of them: one immutable pushed directory per model, evidence and
lineage.

Training evidence and lineage (in a kfx model artifact and every model kfx pushes, either layout; TF Serving and the
kfx runtime ignore them)::

    <dir>/evidence/statistics/        the training statistics (statistics layout: <split>/FeatureStats.pb)
    <dir>/evidence/schema/            the schema the model was trained against (schema layout: schema.pbtxt)
    <dir>/lineage.json                what made the model: data URI + content hash, rows, artifact URIs, module hash,
                                      hyperparameters, kfx version + git commit, pipeline name/version, run id

The monitoring pipeline finds a served model's training statistics and schema here (from the InferenceService's
storage URI, as the baseline resolver finds the model): :func:`evidence_statistics_dir`, :func:`evidence_schema_dir`.

No model (a baseline Model artifact marked ``metadata["present"] = False``: nothing is served yet)::

    <dir>/model-ref.json      {"storage_uri": null, "reason": "..."}

Every reader of a model directory, wherever it comes from (a train output, a pushed model, a resolved baseline),
finds its SavedModel through :func:`saved_model_dir`, so the layouts are known here and nowhere else.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

import tensorflow as tf

from components._shared.artifacts import join, read_json, register_filesystem, write_json

SAVED_MODEL_DIR = "saved_model"
LOGS_DIR = "logs"
MODEL_META = "model.json"
SAVED_MODEL_PB = "saved_model.pb"
TF_SERVING_VERSION = "1"
PUSH_MARKER = "kfx-push.json"
REFERENCE_FILE = "model-ref.json"
EVIDENCE_DIR = "evidence"
EVIDENCE_STATISTICS = "statistics"
EVIDENCE_SCHEMA = "schema"
LINEAGE_FILE = "lineage.json"

#: metadata key of a baseline Model artifact: False = no model (KFP has no optional outputs, so "none" is an
#: artifact marked absent). Written by resolve_baseline / import_baseline, read by evaluate.
PRESENT_KEY = "present"

KFX_LAYOUT = "kfx"
TF_SERVING_LAYOUT = "tensorflow"
LAYOUTS = (KFX_LAYOUT, TF_SERVING_LAYOUT)


def kfx_saved_model_dir(model_dir: str) -> str:
    """Where train exports the SavedModel of a kfx model artifact (``<dir>/saved_model``)."""
    return join(model_dir, SAVED_MODEL_DIR)


def logs_dir(model_dir: str) -> str:
    """Where train writes TensorBoard logs (``<dir>/logs``)."""
    return join(model_dir, LOGS_DIR)


def meta_path(model_dir: str) -> str:
    """``<dir>/model.json`` (for messages; read it with :func:`read_model_meta`)."""
    return join(model_dir, MODEL_META)


def has_saved_model(saved_dir: str) -> bool:
    """True when ``saved_dir`` holds a ``saved_model.pb``."""
    register_filesystem(saved_dir)
    return tf.io.gfile.exists(join(saved_dir, SAVED_MODEL_PB))


def saved_model_pb(saved_dir: str) -> str:
    """The ``saved_model.pb`` of a SavedModel directory."""
    return join(saved_dir, SAVED_MODEL_PB)


def saved_model_subdir(layout: str) -> str:
    """Where the SavedModel sits inside a model directory of ``layout``."""
    if layout not in LAYOUTS:
        raise ValueError(f"model layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    return SAVED_MODEL_DIR if layout == KFX_LAYOUT else TF_SERVING_VERSION


def write_absent(model_dir: str, reason: str) -> None:
    """Make ``model_dir`` a reference to no model (e.g. nothing served yet), saying why."""
    write_json(join(model_dir, REFERENCE_FILE), {"storage_uri": None, "reason": reason})


def resolve(model_dir: str) -> str:
    """The directory that holds the model: ``model_dir`` itself, or the one its reference names.

    FileNotFoundError for a reference to no model (the marker :func:`write_absent` writes)."""
    register_filesystem(model_dir)
    path = join(model_dir, REFERENCE_FILE)
    if not tf.io.gfile.exists(path):
        return model_dir
    ref = read_json(path)
    if not ref.get("storage_uri"):
        raise FileNotFoundError(f"{model_dir} refers to no model: {ref.get('reason') or 'none recorded'}")
    register_filesystem(ref["storage_uri"])
    return str(ref["storage_uri"])


def layout_of(model_dir: str) -> str | None:
    """Which layout ``model_dir`` holds (``kfx`` or ``tensorflow``), or None when it holds no SavedModel."""
    try:
        model_dir = resolve(model_dir)
    except FileNotFoundError:
        return None
    for layout in LAYOUTS:
        if tf.io.gfile.exists(join(model_dir, saved_model_subdir(layout), SAVED_MODEL_PB)):
            return layout
    return None


def saved_model_dir(model_dir: str) -> str:
    """The SavedModel directory inside a model directory of either layout; a FileNotFoundError naming both."""
    model_dir = resolve(model_dir)
    layout = layout_of(model_dir)
    if layout is None:
        raise FileNotFoundError(
            f"no SavedModel in {model_dir}: expected {join(model_dir, SAVED_MODEL_DIR, SAVED_MODEL_PB)} (a kfx model "
            f"artifact) or {join(model_dir, TF_SERVING_VERSION, SAVED_MODEL_PB)} (a model pushed for TF Serving)"
        )
    return join(model_dir, saved_model_subdir(layout))


def read_model_meta(model_dir: str) -> dict[str, Any]:
    """``model.json`` of a model directory (either layout, or a reference to one), or {} when it has none."""
    model_dir = resolve(model_dir)
    path = join(model_dir, MODEL_META)
    return read_json(path) if tf.io.gfile.exists(path) else {}


def evidence_statistics_dir(model_dir: str) -> str:
    """The training statistics kept with a model (``<dir>/evidence/statistics``, statistics layout)."""
    return join(model_dir, EVIDENCE_DIR, EVIDENCE_STATISTICS)


def evidence_schema_dir(model_dir: str) -> str:
    """The schema kept with a model (``<dir>/evidence/schema``, schema layout)."""
    return join(model_dir, EVIDENCE_DIR, EVIDENCE_SCHEMA)


def read_lineage(model_dir: str) -> dict[str, Any]:
    """``lineage.json`` of a model directory (either layout, or a reference to one), or {} when it has none."""
    model_dir = resolve(model_dir)
    path = join(model_dir, LINEAGE_FILE)
    return read_json(path) if tf.io.gfile.exists(path) else {}


def write_lineage(model_dir: str, lineage: dict[str, Any]) -> None:
    """Write ``lineage.json``: values must be strings, numbers or bools (KFP metadata takes no nulls)."""
    nulls = sorted(k for k, v in lineage.items() if v is None)
    if nulls:
        raise ValueError(f"lineage values must not be null (KFP metadata cannot store them): {', '.join(nulls)}")
    write_json(join(model_dir, LINEAGE_FILE), lineage)


def write_model_meta(model_dir: str, meta: dict[str, Any]) -> None:
    write_json(join(model_dir, MODEL_META), meta)


def relative_files(root: str) -> list[str]:
    """Relative ('/'-separated) paths of every file under ``root`` (a local path or any gfile URI), sorted."""
    register_filesystem(root)
    out = []
    base = root.rstrip("/")
    for dirpath, _dirs, files in tf.io.gfile.walk(root):
        rel = dirpath[len(base) :].lstrip("/") if "://" in root else os.path.relpath(dirpath, root)
        for f in files:
            out.append(f if rel in ("", ".") else posixpath.join(rel.replace(os.sep, "/"), f))
    return sorted(out)


def serving_files(model_dir: str) -> list[str]:
    """The files of a kfx model artifact that serving needs: ``saved_model/**`` and ``model.json`` (no logs)."""
    saved = join(model_dir, SAVED_MODEL_DIR)
    register_filesystem(model_dir)
    if not tf.io.gfile.exists(join(saved, SAVED_MODEL_PB)):
        raise FileNotFoundError(
            f"model artifact {model_dir} has no {SAVED_MODEL_DIR}/{SAVED_MODEL_PB}; pass the `model` output of the "
            "train step"
        )
    files = [posixpath.join(SAVED_MODEL_DIR, f) for f in relative_files(saved)]
    if tf.io.gfile.exists(join(model_dir, MODEL_META)):
        files.append(MODEL_META)
    return files


def push_sources(model_dir: str, statistics_dir: str = "", schema_dir: str = "") -> list[tuple[str, str]]:
    """(source file, path in the kfx layout) of everything a push copies: :func:`serving_files`, ``lineage.json``
    when the model has one, and the training evidence from the statistics and schema artifacts when given."""
    from components._shared.artifacts import schema as schema_layout
    from components._shared.artifacts import statistics as statistics_layout

    files = [(join(model_dir, rel), rel) for rel in serving_files(model_dir)]
    if tf.io.gfile.exists(join(model_dir, LINEAGE_FILE)):
        files.append((join(model_dir, LINEAGE_FILE), LINEAGE_FILE))
    if statistics_dir:
        register_filesystem(statistics_dir)
        stats = [r for r in relative_files(statistics_dir) if posixpath.basename(r) == statistics_layout.STATS_FILE
                 and not r.startswith(statistics_layout.STAGING_DIR + "/")]  # fmt: skip
        if not stats:
            raise FileNotFoundError(
                f"statistics artifact {statistics_dir} has no <split>/{statistics_layout.STATS_FILE}; pass the "
                "`statistics` output of the statistics step"
            )
        prefix = posixpath.join(EVIDENCE_DIR, EVIDENCE_STATISTICS)
        files += [(join(statistics_dir, *r.split("/")), posixpath.join(prefix, r)) for r in stats]
    if schema_dir:
        path = schema_layout.schema_path(schema_dir)
        register_filesystem(path)
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"schema artifact {schema_dir} has no {schema_layout.SCHEMA_FILE}; pass the "
                                    "`schema` output of the schema step")  # fmt: skip
        files.append((path, posixpath.join(EVIDENCE_DIR, EVIDENCE_SCHEMA, schema_layout.SCHEMA_FILE)))
    return files


def pushed_path(rel: str, layout: str) -> str:
    """Where a file of the kfx artifact (relative path from :func:`push_sources`) goes in a push of ``layout``."""
    prefix = SAVED_MODEL_DIR + "/"
    if rel.startswith(prefix):
        return posixpath.join(saved_model_subdir(layout), rel[len(prefix) :])
    return rel


def read_push_marker(model_dir: str) -> dict[str, Any] | None:
    """``kfx-push.json`` of a pushed model directory, or None when there is none (not pushed by kfx, or partial)."""
    register_filesystem(model_dir)
    path = join(model_dir, PUSH_MARKER)
    return read_json(path) if tf.io.gfile.exists(path) else None


def write_push_marker(model_dir: str, marker: dict[str, Any]) -> None:
    write_json(join(model_dir, PUSH_MARKER), marker)


def point_at_model(artifact: Any, uri: str, check: bool = True) -> None:
    """Make a ``Model`` artifact reference the model at ``uri`` (nothing copied), or mark it absent when ``uri`` is
    "" (KFP has no optional outputs). ``check``: fail, naming both layouts, when ``uri`` holds no SavedModel."""
    artifact.metadata[PRESENT_KEY] = bool(uri)
    if not uri:
        return
    if check:
        saved_model_dir(uri)
    artifact.metadata["layout"] = layout_of(uri) or ""
    artifact.metadata["source"] = uri
    artifact.uri = uri
