"""Push a model artifact to the storage URI an InferenceService will load it from.

Layouts at ``storage_uri`` (what KServe's storage initializer copies to ``/mnt/models``):

runtime ``kfx``         ``saved_model/`` + ``model.json`` (the model artifact's layout; kfx's predictor
                        loads ``--model-dir /mnt/models``)
runtime ``tensorflow``  ``1/`` = the SavedModel itself (TF Serving loads the highest numeric version
                        folder under the base path) + ``model.json`` (TF Serving ignores non-numeric entries)

Both get ``kfx-push.json`` ({"digest", "runtime"}) written *last*. The copy goes to a temporary name first
and is renamed into place, so nothing half-written is ever referenced; a URI that already holds the same
digest is left alone (re-applying a model copies nothing), a URI holding something else is refused.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import uuid

import tensorflow as tf

import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from components._shared import artifacts
from components._shared.log import get_logger, timed

log = get_logger("deploy")

PUSH_MARKER = "kfx-push.json"
TF_SERVING_VERSION = "1"
RUNTIMES = ("kfx", "tensorflow")


class StorageError(RuntimeError):
    """The model cannot be pushed to the storage URI."""


def _join(root: str, *parts: str) -> str:
    root = root.rstrip("/")
    if "://" in root:
        return posixpath.join(root, *parts)
    return os.path.join(root, *parts)


def _local_path(uri: str) -> str | None:
    if uri.startswith("file://"):
        return uri[len("file://") :]
    if "://" not in uri:
        return uri
    return None


def _files(root: str) -> list[str]:
    """Relative paths of every file under ``root`` (any gfile URI), sorted."""
    out = []
    for dirpath, _dirs, files in tf.io.gfile.walk(root):
        rel = os.path.relpath(dirpath, root) if "://" not in root else dirpath[len(root.rstrip("/")) :].lstrip("/")
        for f in files:
            out.append(f if rel in ("", ".") else posixpath.join(rel.replace(os.sep, "/"), f))
    return sorted(out)


def model_files(model_dir: str) -> list[str]:
    """The files of a model artifact that serving needs (``saved_model/**`` and ``model.json``)."""
    saved = _join(model_dir, artifacts.SAVED_MODEL_DIR)
    if not tf.io.gfile.exists(_join(saved, "saved_model.pb")):
        raise StorageError(
            f"model artifact {model_dir} has no {artifacts.SAVED_MODEL_DIR}/saved_model.pb; "
            "pass the `model` output of the train step"
        )
    files = [posixpath.join(artifacts.SAVED_MODEL_DIR, f) for f in _files(saved)]
    if tf.io.gfile.exists(_join(model_dir, artifacts.MODEL_META)):
        files.append(artifacts.MODEL_META)
    return files


def model_digest(model_dir: str) -> str:
    """sha256 over the relative paths and bytes of the files serving needs (stable across copies)."""
    h = hashlib.sha256()
    for rel in model_files(model_dir):
        h.update(rel.encode() + b"\0")
        with tf.io.gfile.GFile(_join(model_dir, rel), "rb") as f:
            h.update(f.read())
        h.update(b"\0")
    return h.hexdigest()


def _destination(rel: str, runtime: str) -> str:
    if runtime == "tensorflow" and rel.startswith(artifacts.SAVED_MODEL_DIR + "/"):
        return posixpath.join(TF_SERVING_VERSION, rel[len(artifacts.SAVED_MODEL_DIR) + 1 :])
    return rel


def check_scheme(uri: str) -> None:
    """Fail early, naming the fix, when TensorFlow has no filesystem for the URI's scheme (s3:// needs tensorflow-io)."""
    if "://" not in uri or uri.startswith("file://"):
        return
    scheme = uri.split("://", 1)[0]
    if scheme == "s3":
        try:
            import tensorflow_io  # noqa: F401  (registers the s3:// filesystem with tf.io.gfile)
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
    path = _join(storage_uri, PUSH_MARKER)
    if not tf.io.gfile.exists(path):
        return None
    return artifacts.read_json(path)


def push_model(model_dir: str, storage_uri: str, runtime: str = "kfx", digest: str | None = None) -> dict:
    """Copy the model to ``storage_uri`` in the layout ``runtime`` loads; return {"digest", "copied", "files"}."""
    if runtime not in RUNTIMES:
        raise StorageError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    check_scheme(storage_uri)
    files = model_files(model_dir)
    digest = digest or model_digest(model_dir)
    marker = read_marker(storage_uri)
    if marker is not None:
        if marker.get("digest") == digest and marker.get("runtime") == runtime:
            log.info("storage %s already holds this model (digest %s); nothing copied", storage_uri, digest[:12])
            return {"digest": digest, "copied": False, "files": len(files)}
        raise StorageError(
            f"storage URI {storage_uri} already holds another model (digest {str(marker.get('digest'))[:12]}, "
            f"runtime {marker.get('runtime')}); push each model to its own versioned path"
        )
    if tf.io.gfile.exists(storage_uri) and tf.io.gfile.listdir(storage_uri):
        raise StorageError(
            f"storage URI {storage_uri} is not empty and was not written by kfx (no {PUSH_MARKER}); "
            "choose an empty versioned path"
        )
    parent, base = (
        posixpath.split(storage_uri.rstrip("/")) if "://" in storage_uri else os.path.split(storage_uri.rstrip("/"))
    )
    tmp = _join(parent, f".kfx-tmp-{base}-{uuid.uuid4().hex[:8]}")
    with timed(log, f"pushing {len(files)} model files to {storage_uri} ({runtime} layout)") as t:
        for rel in files:
            dst = _join(tmp, _destination(rel, runtime))
            tf.io.gfile.makedirs(posixpath.dirname(dst) if "://" in dst else os.path.dirname(dst))
            tf.io.gfile.copy(_join(model_dir, rel), dst, overwrite=True)
        artifacts.write_json(_join(tmp, PUSH_MARKER), {"digest": digest, "runtime": runtime, "source": model_dir})
        local = _local_path(storage_uri)
        if local is not None:
            os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
            if os.path.isdir(local):
                os.rmdir(local)  # empty (checked above)
            os.rename(_local_path(tmp), local)  # atomic on one filesystem
        else:
            # Object stores have no directory rename: move file by file, the marker last, so a reader that
            # finds kfx-push.json finds every other file.
            for rel in sorted(_files(tmp), key=lambda r: r == PUSH_MARKER):
                dst = _join(storage_uri, rel)
                tf.io.gfile.makedirs(posixpath.dirname(dst))
                tf.io.gfile.rename(_join(tmp, rel), dst, overwrite=True)
            tf.io.gfile.rmtree(tmp)
        t["rows"] = len(files)
    return {"digest": digest, "copied": True, "files": len(files)}
