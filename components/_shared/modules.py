"""Load a user module file (``preprocessing_fn``, ``build_model``/``run_fn``), like TFX's module_file."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from types import ModuleType

import tensorflow as tf

from components._shared.artifacts import register_filesystem


class ModuleFileError(ValueError):
    """The user's module file is missing, broken, or lacks a required function."""


def _local_copy(module_file: str) -> str:
    if "://" not in module_file:
        if not os.path.isfile(module_file):
            raise ModuleFileError(f"module file {module_file} does not exist")
        return os.path.abspath(module_file)
    register_filesystem(module_file)
    if not tf.io.gfile.exists(module_file):
        raise ModuleFileError(f"module file {module_file} does not exist")
    digest = hashlib.sha1(module_file.encode()).hexdigest()[:12]
    local = os.path.join(tempfile.gettempdir(), f"kfx_module_{digest}.py")
    tf.io.gfile.copy(module_file, local, overwrite=True)
    return local


def _is_dotted_name(module_file: str) -> bool:
    return (
        "/" not in module_file
        and not module_file.endswith(".py")
        and all(part.isidentifier() for part in module_file.split("."))
    )


def load_module(module_file: str, required: tuple[str, ...] = ()) -> ModuleType:
    """Import ``module_file``: a local path, any ``tf.io.gfile`` URI, or an installed
    module's dotted name (``pipelines.modules.fraud``: the built-in modules, present in the image).

    Raises ModuleFileError naming the file for a missing file, a syntax/import error,
    or a missing function listed in ``required``.
    """
    if _is_dotted_name(module_file):
        try:
            module = importlib.import_module(module_file)
        except ImportError as e:
            raise ModuleFileError(f"module {module_file} cannot be imported: {e}") from e
        _check_required(module, module_file, required)
        return module
    path = _local_copy(module_file)
    name = "kfx_user_module_" + hashlib.sha1(path.encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModuleFileError(f"module file {module_file} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        sys.modules.pop(name, None)
        raise ModuleFileError(f"module file {module_file} has a syntax error at line {e.lineno}: {e.msg}") from e
    except Exception as e:
        sys.modules.pop(name, None)
        raise ModuleFileError(f"module file {module_file} failed to import: {type(e).__name__}: {e}") from e
    _check_required(module, module_file, required)
    return module


def _check_required(module: ModuleType, module_file: str, required: tuple[str, ...]) -> None:
    missing = [fn for fn in required if not callable(getattr(module, fn, None))]
    if missing:
        raise ModuleFileError(f"module file {module_file} does not define {', '.join(missing)}")
