"""Artifact kinds: every compiled kfx pipeline is wired kind-to-kind, and a miswiring is caught before anything runs."""

import glob
import os

import pytest
import yaml

from components._shared import kinds
from components._shared.version import __version__

pytestmark = pytest.mark.components

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPILED = sorted(glob.glob(os.path.join(ROOT, "pipelines", "compiled", __version__, "*.yaml")))


def _load(path: str) -> dict:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    return docs[0]  # the pipeline spec; a second document, if any, is the Kubernetes platform spec


@pytest.mark.parametrize("path", COMPILED, ids=os.path.basename)
def test_compiled_pipelines_are_wired_kind_to_kind(path):
    assert COMPILED, "no compiled pipelines found"
    assert kinds.wiring_errors(_load(path)) == []


def test_every_producer_in_the_table_stamps_a_known_kind():
    for component, io in kinds.COMPONENT_IO.items():
        for direction in ("inputs", "outputs"):
            for name, kind in io[direction].items():
                assert kind in kinds.KINDS, f"{component}.{direction}.{name}: unknown kind {kind}"


def test_a_miswired_pipeline_fails_the_walk(tmp_path):
    from kfp import compiler, dsl

    from components.statistics.component import statistics as statistics_component
    from components.transform.component import transform

    @dsl.pipeline(name="miswired")
    def miswired(data_uri: str):
        from components.ingest.component import ingest

        examples = ingest(data_uri=data_uri)
        stats = statistics_component(examples=examples.outputs["examples"])
        # statistics where transform needs a schema: compiles (both are system.Dataset), fails the kind walk
        transform(examples=examples.outputs["examples"], schema=stats.outputs["statistics"], module_file="m")

    out = tmp_path / "miswired.yaml"
    compiler.Compiler().compile(miswired, str(out))
    errors = kinds.wiring_errors(_load(str(out)))
    assert len(errors) == 1
    assert "input 'schema' needs 'schema'" in errors[0] and "'statistics' artifact" in errors[0]


class _Artifact:
    def __init__(self, kind, uri="s3://bucket/x"):
        self.metadata = {kinds.KIND_KEY: kind} if kind else {}
        self.uri = uri


def test_check_inputs_names_the_wrong_wiring():
    with pytest.raises(kinds.ArtifactKindError) as e:
        kinds.check_inputs("transform", examples=_Artifact("examples"), schema=_Artifact("statistics"))
    message = str(e.value)
    assert "transform: input 'schema' needs a 'schema' artifact but was given a 'statistics' artifact" in message
    assert "schema.outputs['schema']" in message


def test_unstamped_artifacts_are_accepted():
    kinds.check_inputs("transform", examples=_Artifact(None), schema=_Artifact(None))


def test_component_of_ir_names():
    assert kinds.component_of("comp-resolve-baseline") == "resolve_baseline"
    assert kinds.component_of("comp-statistics-2") == "statistics"
    assert kinds.component_of("comp-ingest") == "ingest"
