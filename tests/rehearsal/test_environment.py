"""The image-equivalent environment and the one install script (fast: nothing is built here)."""

from __future__ import annotations

import os
import re

import pytest

from tests.rehearsal.environment import DOCKERFILE, INSTALL_SCRIPT, ROOT, dockerfile_env, environment_key

pytestmark = pytest.mark.rehearsal


def test_dockerfile_installs_only_through_the_one_install_script():
    with open(DOCKERFILE) as f:
        runs = [line for line in f.read().replace("\\\n", " ").splitlines() if line.startswith("RUN ")]
    installs = [r for r in runs if re.search(r"\b(pip|uv pip|uv build|setup\.py)\b", r)]
    # the only other install is uv itself (the script's prerequisite)
    assert all("components/install.sh" in r or re.search(r"pip install .*\"?uv==", r) for r in installs), installs
    assert sum("components/install.sh deps" in r for r in runs) == 1
    assert sum("components/install.sh kfx" in r for r in runs) == 1
    assert os.access(INSTALL_SCRIPT, os.X_OK)


def test_image_env_comes_from_the_dockerfile():
    env = dockerfile_env()
    assert env["TF_USE_LEGACY_KERAS"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["LANG"] == "C.UTF-8"


def test_environment_key_follows_the_sources(tmp_path, monkeypatch):
    import tests.rehearsal.environment as environment

    key = environment_key()
    assert key == environment_key()
    lock = tmp_path / "components.lock"
    with open(os.path.join(ROOT, "requirements", "components.lock")) as f:
        lock.write_text(f.read() + "\n# changed\n")
    monkeypatch.setattr(environment, "LOCK", str(lock))
    assert environment_key() != key
