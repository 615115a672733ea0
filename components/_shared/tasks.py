"""The learning tasks kfx trains and evaluates: one list for train, evaluate, the CLI and the pipelines."""

from __future__ import annotations

BINARY = "binary"
MULTICLASS = "multiclass"
REGRESSION = "regression"
TASKS = (BINARY, MULTICLASS, REGRESSION)


def check_task(task: str) -> str:
    """``task`` if kfx knows it, else a ValueError naming the choices."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    return task
