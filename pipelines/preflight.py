"""Input checks before a local run starts: fast (well under 2 s) and without importing TensorFlow.

What each check catches before any step runs (each would otherwise surface minutes later, inside a step):

- the data path exists, is a readable file and has a header row; the raw label column and the slice
  features are in that header;
- the module file exists, compiles, and defines what the entry points need (``preprocessing_fn``;
  ``build_model`` or ``run_fn``) — read with ``ast``, never imported;
- the schema file parses as a TFMD ``Schema`` text proto with features (``artifacts.schema.parse_schema_text``, the
  schema step's own parser: tensorflow_metadata + protobuf, ~0.1 s);
- the task, number of classes and metric thresholds agree (e.g. an ``auc`` threshold for regression).

Remote URIs (``gs://``, ``s3://``) are left to the steps: checking them needs the filesystem plugins of TF.
Messages name pipeline parameters in backticks (`` `module_file` ``); the CLI turns them into its flags.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any

from components._shared import tasks
from components._shared.tasks import MULTICLASS, TASKS

_TABLES = ("METRICS", "NO_DIRECTION")
EVALUATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "components", "evaluate")


class PreflightError(ValueError):
    """The inputs of a run are wrong; ``problems`` lists every one found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(problems))


@dataclass
class Preflight:
    """What the checks found: ``problems`` stop the run, ``notes`` are said and the run goes on."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    header: list[str] | None = None

    def raise_if_any(self) -> None:
        if self.problems:
            raise PreflightError(self.problems)


def _is_remote(uri: str) -> bool:
    return "://" in uri


def read_header(path: str) -> list[str]:
    """The first row of a local CSV file (OSError/ValueError if it cannot be read or is empty)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        row = next(csv.reader(f), None)
    if not row:
        raise ValueError("it is empty: a CSV file with a header row is expected")
    return [c.strip() for c in row]


def check_data(data_uri: str, found: Preflight) -> None:
    if not data_uri:
        found.problems.append("`data_uri` is empty: give the CSV file to train on")
        return
    if _is_remote(data_uri):
        found.notes.append(f"{data_uri}: remote data is checked by the ingest step")
        return
    if not os.path.exists(data_uri):
        found.problems.append(f"`data_uri` {data_uri} does not exist")
    elif os.path.isdir(data_uri):
        found.problems.append(f"`data_uri` {data_uri} is a directory; give the CSV file")
    elif not os.access(data_uri, os.R_OK):
        found.problems.append(f"`data_uri` {data_uri} is not readable (permissions)")
    else:
        try:
            found.header = read_header(data_uri)
        except (OSError, ValueError) as e:
            found.problems.append(f"`data_uri` {data_uri} cannot be read as CSV: {e}")


def _module_path(module_file: str) -> str | None:
    """Local source path of a module file given as a path or a dotted name (None if not found)."""
    dotted = "/" not in module_file and not module_file.endswith(".py")
    if not dotted:
        return module_file if os.path.isfile(module_file) else None
    try:
        spec = importlib.util.find_spec(module_file)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def defined_names(source: str, filename: str) -> set[str]:
    """Names bound at the top level of a module's source (def, class, assignment, import). SyntaxError."""
    tree = ast.parse(source, filename=filename)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def check_module(module_file: str, found: Preflight) -> None:
    if _is_remote(module_file):
        found.notes.append(f"{module_file}: a remote module file is checked by the transform step")
        return
    path = _module_path(module_file)
    if path is None:
        found.problems.append(f"`module_file` {module_file} does not exist (a .py path or an installed module name)")
        return
    try:
        with open(path, encoding="utf-8") as f:
            names = defined_names(f.read(), path)
    except SyntaxError as e:
        found.problems.append(f"`module_file` {module_file} has a syntax error at line {e.lineno}: {e.msg}")
        return
    except (OSError, UnicodeDecodeError) as e:
        found.problems.append(f"`module_file` {module_file} cannot be read: {e}")
        return
    if "preprocessing_fn" not in names:
        found.problems.append(f"`module_file` {module_file} defines no preprocessing_fn (transform needs it)")
    if not names & {"build_model", "run_fn"}:
        found.problems.append(f"`module_file` {module_file} defines neither build_model nor run_fn (train needs one)")


def check_schema(schema_uri: str, found: Preflight) -> None:
    if not schema_uri:
        return
    if _is_remote(schema_uri):
        found.notes.append(f"{schema_uri}: a remote schema is checked by the schema step")
        return
    if not os.path.isfile(schema_uri):
        found.problems.append(f"`schema_uri` {schema_uri} does not exist")
        return
    from components._shared.artifacts.schema import SchemaError, parse_schema_text  # the schema step's parser

    try:
        with open(schema_uri, encoding="utf-8") as f:
            schema = parse_schema_text(f.read(), schema_uri)
    except (OSError, UnicodeDecodeError) as e:
        found.problems.append(f"`schema_uri` {schema_uri} cannot be read: {e}")
        return
    except SchemaError as e:
        found.problems.append(f"`schema_uri`: {e}")
        return
    if found.header is not None:
        missing = sorted({f.name for f in schema.feature} - set(found.header))
        if missing:
            found.notes.append(f"schema {schema_uri} declares features not in the data header: {missing}")


def check_columns(values: dict[str, Any], found: Preflight) -> None:
    """The raw label column and the slice features are columns of the data."""
    if found.header is None:
        return
    columns = f"(columns: {', '.join(found.header)})"
    raw = values.get("raw_label_key") or ""
    if raw and raw not in found.header:
        found.problems.append(f"`raw_label_key` {raw!r} is not a column of {values.get('data_uri')} {columns}")
    missing = [s for s in values.get("slice_features") or [] if s not in found.header]
    if missing:
        found.problems.append(f"`slice_features` {missing} are not columns of {values.get('data_uri')} {columns}")


class _TaskNames(ast.NodeTransformer):
    """``BINARY`` -> ``"binary"``: the task constants a table may be keyed by (components._shared.tasks)."""

    def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802  (the ast API)
        value = getattr(tasks, node.id, None)
        return ast.copy_location(ast.Constant(value), node) if isinstance(value, str) else node


def metric_names() -> dict[str, set[str]]:
    """Threshold-able metric names per task, read (with ``ast``: evaluate's modules import TF) from evaluate's
    ``METRICS`` and ``NO_DIRECTION`` tables (``_METRICS``/``_NO_DIRECTION`` before evaluate's split), the one
    list evaluate itself checks thresholds against. {} if not found (a unit test fails then)."""
    tables: dict[str, Any] = {}
    for name in sorted(os.listdir(EVALUATE_DIR)) if os.path.isdir(EVALUATE_DIR) else []:
        if not name.endswith(".py"):
            continue
        with open(os.path.join(EVALUATE_DIR, name), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in tree.body:
            target = (
                node.target
                if isinstance(node, ast.AnnAssign)
                else (node.targets[0] if isinstance(node, ast.Assign) else None)
            )
            if isinstance(target, ast.Name) and target.id.lstrip("_") in _TABLES and node.value is not None:
                value = node.value.args[0] if isinstance(node.value, ast.Call) and node.value.args else node.value
                try:
                    tables[target.id.lstrip("_")] = ast.literal_eval(_TaskNames().visit(value))
                except ValueError:
                    pass
    metrics, no_direction = tables.get("METRICS"), set(tables.get("NO_DIRECTION") or ())
    if not isinstance(metrics, dict):
        return {}
    return {task: {m[1] for m in rows} - no_direction for task, rows in metrics.items()}


def check_task(values: dict[str, Any], found: Preflight) -> None:
    task, num_classes = values.get("task"), int(values.get("num_classes") or 0)
    if task not in TASKS:
        found.problems.append(f"`task` must be one of {', '.join(TASKS)}; got {task!r}")
        return
    if task == MULTICLASS and num_classes == 1:
        found.problems.append("`num_classes` 1 makes no multiclass task: give 2 or more (or 0)")
    if task != MULTICLASS and num_classes:
        found.problems.append(f"`num_classes` {num_classes} is for multiclass only, but `task` is {task}")
    eval_fraction = values.get("eval_fraction")
    if eval_fraction is not None and not 0.0 < float(eval_fraction) < 1.0:
        found.problems.append(f"`eval_fraction` must be strictly between 0 and 1, got {eval_fraction}")
    known = metric_names().get(task)
    for key in ("value_thresholds", "change_thresholds"):
        for metric in values.get(key) or {}:
            if known is not None and metric not in known:
                other = [t for t, names in metric_names().items() if metric in names]
                hint = f" ({metric} is a {' / '.join(other)} metric)" if other else ""
                found.problems.append(
                    f"`{key}` on {metric!r} does not fit `task` {task}{hint}; choose from {', '.join(sorted(known))}"
                )


def check_inputs(values: dict[str, Any]) -> Preflight:
    """Run every check on the training parameter ``values``; returns what was found (raises nothing)."""
    found = Preflight()
    check_data(values.get("data_uri") or "", found)
    check_module(values.get("module_file") or "", found)
    check_schema(values.get("schema_uri") or "", found)
    check_columns(values, found)
    check_task(values, found)
    return found
