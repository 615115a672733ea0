"""The artifact contract (``components/_shared/artifacts/__init__.py``) names every file the layout modules define,
and no module of ``components/`` or ``pipelines/`` outside ``components/_shared/artifacts/`` spells an artifact file
name: a component that writes a file the contract does not name fails here."""

from __future__ import annotations

import ast
import importlib
import os
import re

import pytest

from components._shared import artifacts, kinds
from tests.testdata.contract import sections as _sections
from tests.testdata.contract import unnamed_files

pytestmark = pytest.mark.unit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS_DIR = os.path.join(ROOT, "components", "_shared", "artifacts")

#: layout module -> the contract sections (kinds.py names) whose files it owns.
LAYOUT_KINDS = {
    "examples": (kinds.EXAMPLES, kinds.TRANSFORMED_EXAMPLES),
    "statistics": (kinds.STATISTICS,),
    "schema": (kinds.SCHEMA,),
    "anomalies": (kinds.ANOMALIES,),
    "transform_graph": (kinds.TRANSFORM_GRAPH,),
    "model": (kinds.MODEL,),
    "evaluation": (kinds.EVALUATION,),
    "blessing": (kinds.BLESSING,),
    "decision": (kinds.DECISION,),
    "prediction_log": ("prediction log",),
    "labels": ("prediction log",),
}
#: Sibling modules of a layout module (split by layer): they name files only through their layout module's functions.
LAYOUT_PARTS = {"examples_writers": "examples"}
#: Module-level constants whose value is a file or directory name inside an artifact.
NAME_CONSTANT = re.compile(r"^[A-Z_]*(_FILE|_DIR|_META|_MARKER|_PB|_PREFIX|_SUFFIX|_VERSION)$")
#: Artifact file names that must not be spelled outside the layout modules (besides every ``*_FILE`` /
#: ``*_META`` / ``*_MARKER`` / ``*_PB`` constant's value, collected below).
KNOWN_FILES = {
    "examples.json",
    "FeatureStats.pb",
    "schema.pbtxt",
    "model.json",
    "blessing.json",
    "slices.json",
    "evaluation.json",
    "report.json",
    "anomalies.pbtxt",
    "transform.json",
    "decision.json",
}


def _name_constants(module_name: str) -> dict[str, str]:
    module = importlib.import_module(f"components._shared.artifacts.{module_name}")
    return {k: v for k, v in vars(module).items() if NAME_CONSTANT.match(k) and isinstance(v, str) and v.strip("./-")}


def test_contract_sections_use_the_kind_names():
    sections = _sections(artifacts.__doc__)
    missing = [k for k in kinds.KINDS if k not in sections]
    assert not missing, f"the artifact contract has no section for kind(s) {missing} (names from kinds.py)"
    modules = {f[:-3] for f in os.listdir(ARTIFACTS_DIR) if f.endswith(".py") and f != "__init__.py"}
    assert modules == set(LAYOUT_KINDS) | set(LAYOUT_PARTS), "a layout module was added or removed: map it here"
    for part in LAYOUT_PARTS:
        assert not _name_constants(part), (
            f"artifacts/{part}.py defines file names: they belong in {LAYOUT_PARTS[part]}.py"
        )


@pytest.mark.parametrize("module_name", sorted(LAYOUT_KINDS))
def test_contract_names_every_file_of_the_layout_module(module_name):
    sections = _sections(artifacts.__doc__)
    constants = _name_constants(module_name)
    assert constants, f"artifacts/{module_name}.py defines no file-name constant"
    for kind in LAYOUT_KINDS[module_name]:
        text = sections[kind]
        for const, value in constants.items():
            pattern = rf"(?<![\w.-]){re.escape(value)}" if const.endswith("_SUFFIX") else rf"/{re.escape(value)}"
            assert re.search(pattern, text), (
                f"artifacts/{module_name}.py defines {const} = {value!r}, but the contract's '{kind}' section "
                f"(components/_shared/artifacts/__init__.py) does not name it"
            )


def _docstring_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _file_names() -> set[str]:
    names = set(KNOWN_FILES)
    for module_name in LAYOUT_KINDS:
        for const, value in _name_constants(module_name).items():
            if "." in value.strip(".") and not const.endswith(("_SUFFIX", "_PREFIX")):
                names.add(value)
    return names


def _sources() -> list[str]:
    out = []
    for top in ("components", "pipelines"):
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [x for x in dirs if x not in ("__pycache__", "compiled")]
            if os.path.abspath(d).startswith(ARTIFACTS_DIR):
                continue
            out += [os.path.join(d, f) for f in files if f.endswith(".py")]
    return sorted(out)


def literal_file_names(path: str, names: set[str]) -> list[str]:
    """``file:line: 'literal'`` for every string literal (docstrings aside) in ``path`` that names one of ``names``."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    docstrings = _docstring_nodes(tree)
    token = re.compile(r"[\w.-]+")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if names & set(token.findall(node.value)):
                found.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}: {node.value!r}")
    return found


def test_the_check_finds_a_spelled_file_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""Writes model.json (a docstring may say so)."""\nP = f"{d}/model.json"\nQ = "x"\n')
    assert literal_file_names(str(bad), _file_names()) == [f"{os.path.relpath(bad, ROOT)}:2: '/model.json'"]


def test_no_module_outside_the_layouts_spells_an_artifact_file_name():
    names = _file_names()
    found = [hit for path in _sources() for hit in literal_file_names(path, names)]
    assert not found, (
        "artifact file names spelled outside components/_shared/artifacts/ (use the layout module's reader, "
        "writer or constant, and name any new file in the contract):\n" + "\n".join(found)
    )


def test_every_file_the_data_steps_write_is_named_in_the_contract(tmp_path):
    """A real ingest -> statistics -> schema -> validate run on small data: each output holds only named files.
    (Evaluate's outputs: tests/unit/test_evaluate.py, test_every_file_evaluate_writes_is_named_in_its_layout.)"""
    from components.datagen import fraud
    from components.ingest.logic import ingest_csv
    from components.schema.logic import make_schema
    from components.statistics.logic import compute_statistics
    from components.validate.logic import validate

    d = {k: str(tmp_path / k) for k in ("examples", "statistics", "schema", "anomalies")}
    ingest_csv(fraud.write_csv(str(tmp_path / "data.csv"), 300), d["examples"])
    compute_statistics(d["examples"], d["statistics"])
    make_schema(d["statistics"], d["schema"])
    validate(d["statistics"], d["schema"], d["anomalies"])
    for kind in (kinds.EXAMPLES, kinds.STATISTICS, kinds.SCHEMA, kinds.ANOMALIES):
        assert os.listdir(d[kind]), kind
        assert unnamed_files(d[kind], kind) == [], f"{kind} files the contract does not name"


def test_an_unnamed_file_is_found(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "FeatureStats.pb").write_bytes(b"")
    (tmp_path / "train" / "extra.json").write_text("{}")
    assert unnamed_files(str(tmp_path), kinds.STATISTICS) == ["train/extra.json"]
