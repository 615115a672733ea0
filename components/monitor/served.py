"""Which model is in production, and the training evidence (statistics + schema) kept with it.

On a cluster the model is found from the InferenceService, exactly as the baseline resolver of deploy finds it
(:func:`components.deploy.baseline.resolve_baseline`: the storage URI serving most traffic). For a local run the
model directory is given directly (``model_uri``), as ``import_baseline`` does for training. Either way the training
statistics and schema are read from the model's evidence folders (``components/_shared/artifacts/model.py``:
``evidence/statistics``, ``evidence/schema``), which deploy pushes with the model; monitoring only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components._shared.artifacts import model as model_layout
from components._shared.artifacts.statistics import has_statistics, read_split_statistics
from components._shared.log import get_logger

log = get_logger("monitor")


class NoModelError(RuntimeError):
    """Nothing is served (or the given model directory holds no model): there is nothing to monitor."""


@dataclass(frozen=True)
class ServedModel:
    uri: str
    source: str  # "model_uri" or "<namespace>/<name>"
    revision: str = ""


def find_model(model_uri: str = "", name: str = "", namespace: str = "", api_client: Any = None) -> ServedModel:
    """The production model: ``model_uri`` when given, else what InferenceService ``namespace/name`` serves."""
    if model_uri:
        model_layout.saved_model_dir(model_uri)  # fails naming both layouts when there is no model
        return ServedModel(model_uri, "model_uri")
    if not name:
        raise NoModelError("give the served model: model_uri (a model directory) or model_name + namespace")
    from components.deploy.baseline import resolve_baseline

    served = resolve_baseline(name, namespace, api_client)
    if not served.present:
        raise NoModelError(
            f"InferenceService {namespace}/{name}: {served.reason}; there is no production model to monitor "
            "(deploy one with the train_and_deploy pipeline, or pass model_uri)"
        )
    return ServedModel(str(served.storage_uri), f"{namespace}/{name}", served.revision)


@dataclass
class Evidence:
    """The training statistics (split -> proto) and schema kept with the model; empty when it has none."""

    statistics: dict[str, Any]
    schema: Any  # schema_pb2.Schema | None
    label_key: str
    notes: list[str]

    @property
    def training(self) -> Any:
        """The training split's statistics (train, else eval), or None."""
        return self.statistics.get("train") or self.statistics.get("eval")


def read_evidence(model_dir: str) -> Evidence:
    """The evidence kept with ``model_dir`` (either layout, or a reference to one); notes say what is missing."""
    from components._shared.artifacts.schema import SchemaError, read_schema

    model_dir = model_layout.resolve(model_dir)
    meta = model_layout.read_model_meta(model_dir)
    label_key = str((meta.get("raw_label_keys") or [""])[0] or meta.get("label_key") or "")
    notes: list[str] = []
    stats_dir, schema_dir = model_layout.evidence_statistics_dir(model_dir), model_layout.evidence_schema_dir(model_dir)
    stats = {}
    if has_statistics(stats_dir, "train") or has_statistics(stats_dir, "eval"):
        stats = read_split_statistics(stats_dir)
    else:
        notes.append(f"the model keeps no training statistics ({stats_dir}): skew against training is not measured")
    try:
        schema = read_schema(schema_dir)
    except SchemaError:
        schema = None
        notes.append(f"the model keeps no schema ({schema_dir}): the window is not checked against a schema")
    for note in notes:
        log.warning("%s", note)
    return Evidence(stats, schema, label_key, notes)
