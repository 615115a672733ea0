"""A model's lineage: which data and code made it. Defined once here; carried through the artifacts that exist.

How it travels (each hop through the layout module of the artifact that carries it):

* ingest hashes the CSV it reads and records ``source``, ``source_sha256``, ``rows`` and ``splits`` in
  ``examples.json`` (``artifacts/examples.py``);
* transform copies those and adds the URIs of the examples, schema and statistics artifacts it was given
  (``transform.json``'s ``"lineage"``, ``artifacts/transform_graph.py``);
* train adds the transform graph URI, the module file and its hash, the hyperparameters, the kfx version and git
  commit, the pipeline name and version and the run, and writes ``<model>/lineage.json``
  (``artifacts/model.write_lineage``) and the same values as the Model artifact's KFP metadata;
* deploy pushes ``lineage.json`` with the model and writes it as annotations on the InferenceService
  (``components/deploy/isvc.py``), which is what ``kfx status`` reads.

Every value is a string or a number (KFP's metadata store takes no nulls): unknown is ``"unknown"`` or ``""``,
structured values (hyperparameters) are compact JSON strings. No kfp and no TensorFlow import at module level.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Mapping
from typing import Any

from components._shared.version import __version__

#: The keys of ``lineage.json`` (and of the Model artifact's lineage metadata), in reading order.
KEYS = (
    "data_uri",  # the CSV (or gfile URI) ingest read
    "data_sha256",  # sha256 of its bytes
    "data_rows",  # rows ingested
    "train_rows",
    "eval_rows",
    "examples_uri",  # the artifacts the model was made from
    "statistics_uri",
    "schema_uri",
    "transform_graph_uri",
    "model_uri",  # the train step's Model artifact
    "module_file",  # as given (path, URI or dotted name)
    "module_sha256",  # sha256 of the module source that ran
    "hyperparameters",  # compact JSON: epochs, batch size, learning rate, units, seed, module hyperparameters
    "task",
    "label_key",
    "kfx_version",
    "git_commit",  # of kfx: the image build's KFX_GIT_COMMIT, else `git rev-parse HEAD` of the checkout
    "pipeline_name",
    "pipeline_version",  # the compiled pipeline's version (pipelines/compiled/<version>/)
    "run_name",  # KFP's pipeline job name ({{$.pipeline_job_name}})
    "run_id",  # KFP's run id ({{$.pipeline_job_uuid}})
    "created_at",  # UTC, ISO 8601
)
UNKNOWN = "unknown"
#: Environment variable the runtime image sets from its build argument (components/Dockerfile).
GIT_COMMIT_ENV = "KFX_GIT_COMMIT"
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_HASH_CHUNK = 4 << 20


def file_sha256(uri: str) -> str:
    """sha256 (hex) of a local file or any ``tf.io.gfile`` URI, read in 4 MiB chunks."""
    h = hashlib.sha256()
    if "://" not in uri or uri.startswith("file://"):
        with open(uri.removeprefix("file://"), "rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                h.update(chunk)
        return h.hexdigest()
    import tensorflow as tf

    from components._shared.artifacts import register_filesystem

    register_filesystem(uri)
    with tf.io.gfile.GFile(uri, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def git_commit(repo_dir: str = PROJECT_ROOT) -> str:
    """kfx's git commit: ``$KFX_GIT_COMMIT`` (set by the image build), else ``git rev-parse HEAD`` of the checkout
    kfx runs from (``-dirty`` when tracked files changed), else ``"unknown"`` (no git, not a checkout)."""
    if os.environ.get(GIT_COMMIT_ENV, "").strip():
        return os.environ[GIT_COMMIT_ENV].strip()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_dir, capture_output=True, text=True, check=True,
                             timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo_dir,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return f"{sha}-dirty" if sha and dirty else sha or UNKNOWN


def runtime_value(value: str | None) -> str:
    """A KFP runtime value (run name/id placeholder): ``""`` when unset or left unsubstituted (called outside KFP)."""
    value = str(value or "")
    return "" if value.startswith("{{$") else value


def scalar(value: Any) -> str | int | float:
    """A metadata-safe value: numbers and strings as they are, bools as numbers, None as "", the rest as JSON."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def clean(lineage: Mapping[str, Any]) -> dict[str, str | int | float]:
    """``lineage`` with every value a string or a number, in :data:`KEYS` order (other keys after, sorted)."""
    order = {k: i for i, k in enumerate(KEYS)}
    return {k: scalar(lineage[k]) for k in sorted(lineage, key=lambda k: (order.get(k, len(KEYS)), k))}


def data_lineage(examples_meta: Mapping[str, Any], examples_uri: str = "") -> dict[str, Any]:
    """The data part, from an examples artifact's ``examples.json`` (what ingest recorded)."""
    splits = examples_meta.get("splits") or {}
    return {
        "data_uri": str(examples_meta.get("source") or ""),
        "data_sha256": str(examples_meta.get("source_sha256") or UNKNOWN),
        "data_rows": int(examples_meta.get("rows") or sum(int(v) for v in splits.values())),
        "train_rows": int(splits.get("train") or 0),
        "eval_rows": int(splits.get("eval") or 0),
        "examples_uri": examples_uri,
    }


def model_lineage(
    inputs: Mapping[str, Any],
    *,
    module_file: str,
    module_path: str | None,
    hyperparameters: Mapping[str, Any],
    task: str,
    label_key: str,
    transform_graph_uri: str = "",
    model_uri: str = "",
    pipeline_name: str = "",
    run_name: str = "",
    run_id: str = "",
) -> dict[str, str | int | float]:
    """The whole lineage of a trained model: ``inputs`` (what transform recorded) plus what train knows."""
    module_hash = UNKNOWN
    if module_path and os.path.isfile(module_path):
        module_hash = file_sha256(module_path)
    out = {
        **{k: inputs.get(k, "") for k in ("data_uri", "examples_uri", "statistics_uri", "schema_uri")},
        **{k: v for k, v in inputs.items() if k in KEYS},
        "transform_graph_uri": transform_graph_uri,
        "model_uri": model_uri,
        "module_file": module_file,
        "module_sha256": module_hash,
        "hyperparameters": dict(hyperparameters),
        "task": task,
        "label_key": label_key,
        "kfx_version": __version__,
        "git_commit": git_commit(),
        "pipeline_name": pipeline_name or "",
        "pipeline_version": __version__,
        "run_name": runtime_value(run_name),
        "run_id": runtime_value(run_id),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out.setdefault("data_sha256", UNKNOWN)
    return clean(out)
