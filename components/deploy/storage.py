"""Push a model artifact, with its lineage and training evidence, to the storage URI an InferenceService loads.

The layouts (kfx, TF Serving), the files a push copies (``model_layout.push_sources``: serving files, ``lineage.json``,
``evidence/statistics/``, ``evidence/schema/``) and the ``kfx-push.json`` marker belong to
``components/_shared/artifacts/model.py``; this module only moves files. The digest covers every pushed file. The copy goes to a temporary name first
and is renamed into place, marker last, so nothing half-written is ever referenced; a URI that already holds the
same digest is left alone (re-applying a model copies nothing), a URI holding something else is refused.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import uuid

import tensorflow as tf

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared.artifacts import model as model_layout
from components._shared.log import get_logger, timed

log = get_logger("deploy")

PUSH_MARKER = model_layout.PUSH_MARKER
RUNTIMES = model_layout.LAYOUTS  # a runtime loads the layout of the same name
_join = model_layout.join


class StorageError(RuntimeError):
    """The model cannot be pushed to the storage URI."""


def _local_path(uri: str) -> str | None:
    if uri.startswith("file://"):
        return uri[len("file://") :]
    return None if "://" in uri else uri


def model_files(model_dir: str, statistics_dir: str = "", schema_dir: str = "") -> list[tuple[str, str]]:
    """(source, path in the kfx layout) of every file a push copies."""
    try:
        return model_layout.push_sources(model_dir, statistics_dir, schema_dir)
    except FileNotFoundError as e:
        raise StorageError(str(e)) from e


def model_digest(model_dir: str, statistics_dir: str = "", schema_dir: str = "") -> str:
    """sha256 over the relative paths and bytes of every pushed file (stable across copies): the serving files,
    and the lineage and evidence when there are any (a model without them digests as it always did)."""
    h = hashlib.sha256()
    for src, rel in model_files(model_dir, statistics_dir, schema_dir):
        h.update(rel.encode() + b"\0")
        with tf.io.gfile.GFile(src, "rb") as f:
            h.update(f.read())
        h.update(b"\0")
    return h.hexdigest()


def check_scheme(uri: str) -> None:
    """Fail early, naming the fix, when TensorFlow has no filesystem for the URI's scheme (s3:// needs tensorflow-io)."""
    if "://" not in uri or uri.startswith("file://"):
        return
    scheme = uri.split("://", 1)[0]
    try:
        model_layout.register_filesystem(uri)
    except ImportError:
        pass
    try:
        tf.io.gfile.exists(uri)
    except tf.errors.UnimplementedError as e:
        hint = (
            "TensorFlow 2.16 has no S3 filesystem of its own: install tensorflow-io==0.37.1 in the runtime image "
            "(it registers s3://; configure it with S3_ENDPOINT, S3_USE_HTTPS, AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY, AWS_REGION), or push to gs:// or a mounted path"
            if scheme == "s3"
            else "use a local path, file://, gs:// or s3://"
        )
        raise StorageError(f"cannot push to {uri}: no filesystem for '{scheme}://' ({e.message}); {hint}") from e


def read_marker(storage_uri: str) -> dict | None:
    return model_layout.read_push_marker(storage_uri)


def _check_destination(storage_uri: str, digest: str, runtime: str) -> bool:
    """True when ``storage_uri`` already holds this push; raise when it holds anything else."""
    marker = read_marker(storage_uri)
    if marker is not None:
        if marker.get("digest") == digest and marker.get("runtime") == runtime:
            return True
        raise StorageError(
            f"storage URI {storage_uri} already holds another model (digest {str(marker.get('digest'))[:12]}, "
            f"runtime {marker.get('runtime')}); push each model to its own versioned path"
        )
    if tf.io.gfile.exists(storage_uri) and tf.io.gfile.listdir(storage_uri):
        raise StorageError(
            f"storage URI {storage_uri} is not empty and was not written by kfx (no {PUSH_MARKER}); "
            "choose an empty versioned path"
        )
    return False


def _move_into_place(tmp: str, storage_uri: str) -> None:
    local = _local_path(storage_uri)
    if local is not None:
        os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
        if os.path.isdir(local):
            os.rmdir(local)  # empty (checked before)
        os.rename(_local_path(tmp), local)  # atomic on one filesystem
        return
    # Object stores have no directory rename: move file by file, the marker last, so a reader that finds
    # kfx-push.json finds every other file.
    for rel in sorted(model_layout.relative_files(tmp), key=lambda r: r == PUSH_MARKER):
        dst = _join(storage_uri, rel)
        tf.io.gfile.makedirs(posixpath.dirname(dst))
        tf.io.gfile.rename(_join(tmp, rel), dst, overwrite=True)
    if tf.io.gfile.exists(tmp):  # on an object store the prefix is gone once its last object moved
        tf.io.gfile.rmtree(tmp)


def push_model(
    model_dir: str,
    storage_uri: str,
    runtime: str = "kfx",
    digest: str | None = None,
    statistics_dir: str = "",
    schema_dir: str = "",
) -> dict:
    """Copy the model (with its ``lineage.json``, and the training statistics and schema as ``evidence/`` when given)
    to ``storage_uri`` in the layout ``runtime`` loads; return {"digest", "copied", "files"}."""
    if runtime not in RUNTIMES:
        raise StorageError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    check_scheme(storage_uri)
    files = model_files(model_dir, statistics_dir, schema_dir)
    digest = digest or model_digest(model_dir, statistics_dir, schema_dir)
    if _check_destination(storage_uri, digest, runtime):
        log.info("storage %s already holds this model (digest %s); nothing copied", storage_uri, digest[:12])
        return {"digest": digest, "copied": False, "files": len(files)}
    parent, base = (
        posixpath.split(storage_uri.rstrip("/")) if "://" in storage_uri else os.path.split(storage_uri.rstrip("/"))
    )
    tmp = _join(parent, f".kfx-tmp-{base}-{uuid.uuid4().hex[:8]}")
    with timed(log, f"pushing {len(files)} model files to {storage_uri} ({runtime} layout)") as t:
        for src, rel in files:
            dst = _join(tmp, *model_layout.pushed_path(rel, runtime).split("/"))
            tf.io.gfile.makedirs(posixpath.dirname(dst) if "://" in dst else os.path.dirname(dst))
            tf.io.gfile.copy(src, dst, overwrite=True)
        model_layout.write_push_marker(tmp, {"digest": digest, "runtime": runtime, "source": model_dir})
        _move_into_place(tmp, storage_uri)
        t["rows"] = len(files)
    return {"digest": digest, "copied": True, "files": len(files)}
