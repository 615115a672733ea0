"""kfp.local's run-directory layout (kfp 2.13), known here and nowhere else.

A local run of pipeline ``<name>`` under ``<root>``::

    <root>/pipeline_root/                        kfp.local's pipeline_root
        <name>-<YYYY-mm-dd-HH-MM-SS-ffffff>/     one run (kfp: get_local_pipeline_resource_name)
            <task>/                              one task (the component name without ``comp-``)
                <output>                         one output artifact (file or directory) per output name
                executor_output.json             written when the task SUCCEEDED (absent for a failed task)
            kfx-run.log                          the full log of ``python -m pipelines.run`` (kfx's addition)
    <root>/latest.json, <root>/last_blessed.json (pipelines.run)

Used by ``pipelines.run``, ``benchmarks/pipeline.py`` and the kfp.local tests.
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any

PIPELINE_ROOT = "pipeline_root"
LATEST = "latest.json"  # <root>/latest.json: the summary of the last run (pipelines.run)
LAST_BLESSED = "last_blessed.json"  # <root>/last_blessed.json: the summary of the last blessed run
EXECUTOR_OUTPUT = "executor_output.json"
LOG_FILE = "kfx-run.log"


def pipeline_root(root: str) -> str:
    """kfp.local's ``pipeline_root`` under a kfx run root (absolute)."""
    return os.path.abspath(os.path.join(root, PIPELINE_ROOT))


def run_dirs(pipeline_root_dir: str, pipeline_name: str) -> set[str]:
    """Every run directory of ``pipeline_name`` under a pipeline root."""
    return set(glob.glob(os.path.join(pipeline_root_dir, f"{pipeline_name}-*")))


def newest_since(pipeline_root_dir: str, pipeline_name: str, before: set[str]) -> str | None:
    """The run directory created since ``before`` was listed (the newest if several), or None."""
    new = sorted(run_dirs(pipeline_root_dir, pipeline_name) - before)
    return new[-1] if new else None


def task_dir(run_dir: str, task: str) -> str:
    return os.path.join(run_dir, task)


def outputs_file(run_dir: str, task: str) -> str:
    """The task's ``executor_output.json`` (exists only if the task succeeded)."""
    return os.path.join(run_dir, task, EXECUTOR_OUTPUT)


def succeeded(run_dir: str, task: str) -> bool:
    return os.path.isfile(outputs_file(run_dir, task))


def finished_at(run_dir: str, task: str) -> float | None:
    """When the task finished (mtime of its executor output), None if it did not succeed."""
    path = outputs_file(run_dir, task)
    return os.path.getmtime(path) if os.path.isfile(path) else None


def output_artifacts(run_dir: str, task: str) -> dict[str, dict[str, Any]]:
    """``{output name: {"uri":..., "metadata": {...}}}`` from the task's executor output ({} if none)."""
    try:
        with open(outputs_file(run_dir, task)) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    out = {}
    for name, entry in (data.get("artifacts") or {}).items():
        arts = entry.get("artifacts") or []
        if arts:
            out[name] = {"uri": arts[0].get("uri", ""), "metadata": arts[0].get("metadata") or {}}
    return out


def collect_artifacts(run_dir: str) -> dict[str, str]:
    """``task/output`` -> path for every artifact a local run wrote."""
    found: dict[str, str] = {}
    for tdir in sorted(glob.glob(os.path.join(run_dir, "*"))):
        if not os.path.isdir(tdir):
            continue
        for out in sorted(os.listdir(tdir)):
            path = os.path.join(tdir, out)
            if out != EXECUTOR_OUTPUT and (os.path.isdir(path) or os.path.isfile(path)):
                found[f"{os.path.basename(tdir)}/{out}"] = path
    return found


def log_file(run_dir: str) -> str:
    return os.path.join(run_dir, LOG_FILE)
