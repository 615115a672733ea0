"""The evaluation artifact layout (kind ``evaluation``, the evaluate step's output): file names, reader, writer.

    <dir>/tfma/              TFMA's output (``tfma.load_eval_result(<dir>/tfma, model_name="candidate")`` when a
                             baseline was given, else without ``model_name``)
    <dir>/slices.json        [{"slice": "Overall" | "feature=value", "features": {...}, "metrics": {name: value}}]
    <dir>/evaluation.json    the whole evaluation result: task, label, overall/baseline metrics, checks, reasons,
                             ROC / precision-recall / calibration points, confusion matrix, naive-baseline notes

The HTML report is the evaluate step's separate ``report`` (KFP HTML) artifact, not a file in this directory.
Numbers that are not finite (e.g. AUC of a slice without positives) are written as ``null`` (strict JSON).
"""

from __future__ import annotations

import math
from typing import Any

from components._shared.artifacts import join, read_json, register_filesystem, write_json

TFMA_DIR = "tfma"
SLICES_FILE = "slices.json"
SUMMARY_FILE = "evaluation.json"
FILES = (TFMA_DIR + "/", SLICES_FILE, SUMMARY_FILE)


def json_safe(obj: Any) -> Any:
    """NaN/inf -> None, recursively, so the files are strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def tfma_dir(evaluation_dir: str) -> str:
    """Where TFMA writes (and ``tfma.load_eval_result`` reads) inside the evaluation artifact."""
    return join(evaluation_dir, TFMA_DIR)


def write_evaluation(evaluation_dir: str, summary: dict[str, Any], slices: list[dict[str, Any]]) -> None:
    register_filesystem(evaluation_dir)
    write_json(join(evaluation_dir, SLICES_FILE), json_safe(slices))
    write_json(join(evaluation_dir, SUMMARY_FILE), json_safe(summary))


def read_slices(evaluation_dir: str) -> list[dict[str, Any]]:
    register_filesystem(evaluation_dir)
    return read_json(join(evaluation_dir, SLICES_FILE))


def read_summary(evaluation_dir: str) -> dict[str, Any]:
    register_filesystem(evaluation_dir)
    return read_json(join(evaluation_dir, SUMMARY_FILE))
