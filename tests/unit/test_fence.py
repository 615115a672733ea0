"""Import guard: logic modules never import kfp, and private library APIs are touched only in components/_shared/_compat/.

The fence is what lets a version bump fail loudly in ``tests/unit/compat/`` instead of silently losing a fast path.
"""

from __future__ import annotations

import ast
import os

import pytest

pytestmark = pytest.mark.unit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRST_PARTY = ("components", "pipelines", "tests", "benchmarks")
COMPAT = os.path.join("components", "_shared", "_compat")
#: Private members kfx is known to need; using one outside _compat is a fence breach.
PRIVATE_ATTRIBUTES = {
    "_call_flat",
    "_call_with_flat_signature",
    "_queue",
    "_is_compiled",
    "_register_endpoints",
    "_add_exception_handlers",
    "_getframe",
}
#: Third-party module paths that are internal even without an underscore.
INTERNAL_MODULES = ("tensorflow.python", "apache_beam.internal", "tensorflow_data_validation.statistics.stats_impl")


def _sources() -> list[str]:
    out = []
    for top in ("components", "pipelines"):
        for dirpath, dirnames, files in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d not in ("__pycache__", "compiled")]
            out += [os.path.join(dirpath, f) for f in files if f.endswith(".py")]
    return sorted(out)


def _private_module(name: str) -> bool:
    if name.split(".")[0] in FIRST_PARTY:
        return False
    return any(p.startswith("_") and not p.startswith("__") for p in name.split(".")) or name.startswith(
        INTERNAL_MODULES
    )


def _breaches(path: str) -> list[str]:
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _private_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _private_module(node.module):
                found.append(f"from {node.module} import ...")
                continue
            found += [
                f"from {node.module} import {a.name}" for a in node.names if _private_module(f"{node.module}.{a.name}")
            ]
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            found.append(f".{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in PRIVATE_ATTRIBUTES
        ):
            found.append(f"{node.func.id}(..., {node.args[1].value!r})")
    return [f"{os.path.relpath(path, ROOT)}:{node}" for node in found]


def test_private_apis_only_in_compat():
    breaches = [b for p in _sources() if not os.path.relpath(p, ROOT).startswith(COMPAT) for b in _breaches(p)]
    assert breaches == [], "private library APIs outside components/_shared/_compat/: " + ", ".join(breaches)


def _imports_kfp(path: str) -> bool:
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "kfp" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kfp":
            return True
    return False


def test_logic_never_imports_kfp():
    """Only a component's ``component.py`` wraps it for KFP; everything else under components/ is plain Python."""
    offenders = [
        os.path.relpath(p, ROOT)
        for p in _sources()
        if os.path.relpath(p, ROOT).startswith("components")
        and os.path.basename(p) != "component.py"
        and _imports_kfp(p)
    ]
    assert offenders == []
