"""What kind of kfx artifact each component input and output is, and the check every wrapper makes.

kfp 2.13 accepts only ``system.``/``google.`` schema titles, so an examples artifact and a statistics artifact are
both ``system.Dataset`` on the wire and a miswiring compiles. kfx makes the kind explicit instead:

* every producer stamps ``metadata["kfx_kind"]`` on its outputs (:func:`stamp_outputs`);
* every wrapper checks the kinds of its inputs first (:func:`check_inputs`) and fails naming the wrong wiring;
* ``tests/components/test_kinds.py`` walks each compiled pipeline's IR with :data:`COMPONENT_IO` so a miswiring in
  kfx's own pipelines fails in the test suite before anything runs.

:data:`COMPONENT_IO` is the one table of these facts; the artifact contract (``components/_shared/artifacts``) uses
the same kind names. No kfp import here: artifacts are duck-typed (``.metadata``, ``.uri``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KIND_KEY = "kfx_kind"

EXAMPLES = "examples"
TRANSFORMED_EXAMPLES = "transformed_examples"
STATISTICS = "statistics"
SCHEMA = "schema"
ANOMALIES = "anomalies"
TRANSFORM_GRAPH = "transform_graph"
MODEL = "model"
EVALUATION = "evaluation"
BLESSING = "blessing"
DECISION = "decision"

KINDS = (
    EXAMPLES, TRANSFORMED_EXAMPLES, STATISTICS, SCHEMA, ANOMALIES, TRANSFORM_GRAPH, MODEL, EVALUATION, BLESSING, DECISION
)  # fmt: skip

#: component name -> {"inputs": {input name: kind}, "outputs": {output name: kind}}. Only kfx-kind artifacts are
#: listed (HTML, Markdown, Metrics and ClassificationMetrics outputs are KFP's own kinds and carry no kfx_kind).
COMPONENT_IO: dict[str, dict[str, dict[str, str]]] = {
    "ingest": {"inputs": {}, "outputs": {"examples": EXAMPLES}},
    "statistics": {"inputs": {"examples": EXAMPLES}, "outputs": {"statistics": STATISTICS}},
    "schema": {"inputs": {"statistics": STATISTICS}, "outputs": {"schema": SCHEMA}},
    "validate": {"inputs": {"statistics": STATISTICS, "schema": SCHEMA}, "outputs": {"anomalies": ANOMALIES}},
    "transform": {
        "inputs": {"examples": EXAMPLES, "schema": SCHEMA, "statistics": STATISTICS},
        "outputs": {"transform_graph": TRANSFORM_GRAPH, "transformed_examples": TRANSFORMED_EXAMPLES},
    },
    "train": {
        "inputs": {"transformed_examples": TRANSFORMED_EXAMPLES, "transform_graph": TRANSFORM_GRAPH},
        "outputs": {"model": MODEL},
    },
    "import_baseline": {"inputs": {}, "outputs": {"baseline": MODEL}},
    "evaluate": {
        "inputs": {"model": MODEL, "examples": EXAMPLES, "baseline_model": MODEL},
        "outputs": {"evaluation": EVALUATION, "blessing": BLESSING},
    },
    "deploy": {"inputs": {"model": MODEL, "blessing": BLESSING, "examples": EXAMPLES}, "outputs": {}},
    # the served model, recorded (not copied) as a reference; metadata["present"] False when nothing is served
    "resolve_baseline": {"inputs": {}, "outputs": {"baseline": MODEL}},
    "rollback": {"inputs": {}, "outputs": {}},
    # the monitoring pipeline (pipelines/monitoring.py)
    "monitor_model": {"inputs": {}, "outputs": {"model": MODEL}},
    "monitor_statistics": {"inputs": {"model": MODEL}, "outputs": {"statistics": STATISTICS}},
    "monitor_checks": {"inputs": {"statistics": STATISTICS, "model": MODEL}, "outputs": {"anomalies": ANOMALIES}},
    "monitor_decide": {"inputs": {"anomalies": ANOMALIES, "model": MODEL}, "outputs": {"decision": DECISION}},
    "retrain": {"inputs": {"decision": DECISION}, "outputs": {}},
}

#: Where each kind comes from, for error messages: kind -> "step.outputs['name']".
PRODUCED_BY: dict[str, str] = {}
for _component, _io in COMPONENT_IO.items():
    for _output, _kind in _io["outputs"].items():
        PRODUCED_BY.setdefault(_kind, f"{_component}.outputs['{_output}']")


class ArtifactKindError(TypeError):
    """An input artifact of the wrong kind: the pipeline connects the wrong output to this input."""


def kind_of(artifact: Any) -> str | None:
    """The kfx kind an artifact was stamped with, or None (an artifact kfx did not produce, e.g. an importer's)."""
    metadata = getattr(artifact, "metadata", None) or {}
    kind = metadata.get(KIND_KEY)
    return str(kind) if kind else None


def check_inputs(component: str, **artifacts: Any) -> None:
    """Fail before any work when an input artifact was produced as another kind than ``component`` needs.

    Artifacts without a stamp (imported with ``dsl.importer``, or made by another tool) are accepted: only a stamp
    that contradicts the expected kind is wrong wiring.
    """
    expected = COMPONENT_IO[component]["inputs"]
    for name, artifact in artifacts.items():
        if artifact is None:
            continue
        want = expected[name]
        got = kind_of(artifact)
        if got is not None and got != want:
            raise ArtifactKindError(
                f"{component}: input '{name}' needs a '{want}' artifact but was given a '{got}' artifact "
                f"({getattr(artifact, 'uri', '?')}). The pipeline wires the wrong output here: connect "
                f"'{name}' to {PRODUCED_BY.get(want, 'a ' + want + ' output')}."
            )


def stamp_outputs(component: str, **artifacts: Any) -> None:
    """Record each output's kfx kind in its metadata (call before the component returns, even on a failed check)."""
    expected = COMPONENT_IO[component]["outputs"]
    for name, artifact in artifacts.items():
        artifact.metadata[KIND_KEY] = expected[name]


def stamp(artifact: Any, kind: str) -> None:
    """Stamp one artifact with ``kind`` (for producers outside :data:`COMPONENT_IO`, e.g. a resolved baseline)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kfx artifact kind {kind!r}; known: {', '.join(KINDS)}")
    artifact.metadata[KIND_KEY] = kind


def expected_kinds(component: str) -> Mapping[str, Mapping[str, str]]:
    """The input and output kinds of ``component`` (for the IR wiring test)."""
    return COMPONENT_IO[component]


def component_of(component_ref: str) -> str:
    """The kfx component a compiled IR component name refers to: ``comp-resolve-baseline-2`` -> ``resolve_baseline``."""
    name = component_ref.removeprefix("comp-")
    head, _, tail = name.rpartition("-")
    if head and tail.isdigit():
        name = head
    return name.replace("-", "_")


def _dag_tasks(ir: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(dag name, task name, task) for the root DAG and every sub-DAG of a compiled pipeline spec."""
    dags = [("root", ir["root"].get("dag", {}))]
    for comp_name, comp in ir.get("components", {}).items():
        if "dag" in comp:
            dags.append((comp_name, comp["dag"]))
    return [(dag_name, name, task) for dag_name, dag in dags for name, task in dag.get("tasks", {}).items()]


def wiring_errors(ir: Mapping[str, Any]) -> list[str]:
    """Every artifact input of a compiled pipeline (IR as a dict) fed by an output of another kfx kind.

    A producer task + output key gives the kind (from :data:`COMPONENT_IO`); the consumer's input name gives the kind
    it needs. Components that take or give kfx artifacts but are missing from the table are errors too, so the table
    cannot fall behind the code.
    """
    errors: list[str] = []
    tasks = {(dag, name): task for dag, name, task in _dag_tasks(ir)}
    components = ir.get("components", {})

    def io_of(task: Mapping[str, Any]) -> tuple[str, Mapping[str, Mapping[str, str]] | None]:
        ref = task["componentRef"]["name"]
        return component_of(ref), COMPONENT_IO.get(component_of(ref))

    for (dag, name), task in tasks.items():
        component, io = io_of(task)
        spec = components.get(task["componentRef"]["name"], {})
        if "dag" in spec:
            continue
        declared_in = set(spec.get("inputDefinitions", {}).get("artifacts", {}))
        declared_out = set(spec.get("outputDefinitions", {}).get("artifacts", {}))
        if io is None:
            if declared_in or declared_out:
                errors.append(
                    f"task '{name}': component '{component}' has artifacts but no entry in kinds.COMPONENT_IO"
                )
            continue
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            want = io["inputs"].get(key)
            producer = source.get("taskOutputArtifact")
            if want is None or producer is None:
                continue
            producer_task = tasks.get((dag, producer["producerTask"]))
            if producer_task is None:
                continue
            producer_component, producer_io = io_of(producer_task)
            got = (producer_io or {}).get("outputs", {}).get(producer["outputArtifactKey"])
            if got is not None and got != want:
                errors.append(
                    f"task '{name}' ({component}) input '{key}' needs '{want}' but is wired to "
                    f"{producer['producerTask']}.outputs['{producer['outputArtifactKey']}'], a '{got}' artifact"
                )
    return errors
