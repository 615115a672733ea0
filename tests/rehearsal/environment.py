"""The image-equivalent interpreter of the cluster rehearsal: a venv built by ``components/install.sh``.

The runtime image (``components/Dockerfile``) runs ``components/install.sh`` into its Python: the pinned
``requirements/components.lock``, then kfx built as a wheel. This module runs the same script into a venv under
``.rehearsal/env/<key>/``, so a rehearsed step imports kfx from an installed wheel (never the source tree, never an
editable install) with exactly the image's packages. ``<key>`` hashes the lock, the script, the Python version and
every file that goes into the wheel: a rerun with nothing changed reuses the venv; any change builds a new one
(older ones are removed). The image's ``ENV`` lines are read from the Dockerfile, so a step sees the same
variables a container of the image would.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL_SCRIPT = os.path.join(ROOT, "components", "install.sh")
DOCKERFILE = os.path.join(ROOT, "components", "Dockerfile")
LOCK = os.path.join(ROOT, "requirements", "components.lock")
UV = os.path.join(ROOT, ".tools", "bin", "uv")


def rehearsal_dir() -> str:
    """The rehearsal's working folder: ``<repo>/.rehearsal``, unless the checkout is under /tmp, which every rehearsed
    pod replaces by a private /tmp (its interpreter and files would vanish): then a folder under /var/tmp."""
    if os.path.realpath(ROOT).startswith("/tmp/"):
        return os.path.join("/var/tmp", "kfx-rehearsal-" + hashlib.sha256(ROOT.encode()).hexdigest()[:12])
    return os.path.join(ROOT, ".rehearsal")


CACHE_DIR = os.path.join(rehearsal_dir(), "env")
#: What goes into kfx's wheel (pyproject.toml: packages components*, pipelines*; README is the long description).
PACKAGE_SOURCES = ("pyproject.toml", "README.md", "components", "pipelines")
#: What the base image (python:3.11-slim-bookworm) sets before the Dockerfile's own ENV lines.
BASE_IMAGE_ENV = {"LANG": "C.UTF-8"}
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ImageEnvironment:
    """An image-equivalent environment: its interpreter's ``bin/`` and the image's ``ENV``."""

    prefix: str
    image_env: dict[str, str]

    @property
    def python(self) -> str:
        return os.path.join(self.prefix, "bin", "python")

    def path(self) -> str:
        """``PATH`` of a container of the image: the environment's ``bin/`` first (``python3`` resolves to it)."""
        return f"{os.path.join(self.prefix, 'bin')}:{SYSTEM_PATH}"


def dockerfile_env(path: str = DOCKERFILE) -> dict[str, str]:
    """The variables a container of the image has: the base image's plus the Dockerfile's ``ENV`` lines."""
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    env = dict(BASE_IMAGE_ENV)
    build_args: dict[str, str] = {}  # ARG defaults (a plain build passes none), substituted into ENV values
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if len(words) == 2 and words[0].upper() == "ARG":
            key, _, value = words[1].partition("=")
            build_args[key] = value
        if len(words) == 2 and words[0].upper() == "ENV":
            for item in shlex.split(words[1]):
                key, sep, value = item.partition("=")
                if not sep:
                    raise ValueError(f"{path}: ENV {words[1]!r}: only the KEY=VALUE form is understood")
                env[key] = re.sub(r"\$\{(\w+)\}", lambda m: build_args.get(m.group(1), env.get(m.group(1), "")), value)
    return env


def _hash_tree(h: hashlib._Hash, path: str) -> None:
    if os.path.isfile(path):
        h.update(os.path.relpath(path, ROOT).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read())
        return
    for dirpath, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.endswith(".egg-info"))
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                _hash_tree(h, os.path.join(dirpath, name))


def environment_key() -> str:
    """Hash of what decides the environment's content: lock, install script, Python version, kfx's sources."""
    h = hashlib.sha256()
    for path in (LOCK, INSTALL_SCRIPT):
        _hash_tree(h, path)
    h.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    for name in PACKAGE_SOURCES:
        _hash_tree(h, os.path.join(ROOT, name))
    return h.hexdigest()[:16]


def build_environment(python: str | None = None) -> ImageEnvironment:
    """The image-equivalent environment for the current sources, built by ``components/install.sh`` if needed."""
    key = environment_key()
    prefix = os.path.join(CACHE_DIR, key)
    os.makedirs(CACHE_DIR, exist_ok=True)
    with open(os.path.join(CACHE_DIR, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions never build the same venv at once
        if not os.path.exists(os.path.join(prefix, ".complete")):
            _build(prefix, python or f"python{sys.version_info.major}.{sys.version_info.minor}")
        for other in os.listdir(CACHE_DIR):
            if other != key and not other.startswith("."):
                shutil.rmtree(os.path.join(CACHE_DIR, other), ignore_errors=True)
    return ImageEnvironment(prefix=prefix, image_env=dockerfile_env())


def _build(prefix: str, python: str) -> None:
    if not os.path.exists(UV):
        raise RuntimeError(f"{UV} is missing: run `make install` first (it installs uv)")
    shutil.rmtree(prefix, ignore_errors=True)
    env = {**os.environ, "UV": UV}
    subprocess.run([UV, "venv", "--quiet", "--python", python, prefix], check=True, env=env)
    proc = subprocess.run(
        ["sh", INSTALL_SCRIPT, "all", os.path.join(prefix, "bin", "python"), ROOT],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"components/install.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    with open(os.path.join(prefix, ".complete"), "w") as f:
        f.write(environment_key())


if __name__ == "__main__":
    built = build_environment()
    print(built.python)
