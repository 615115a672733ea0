"""The deploy parameters, defined once: name, type, default and help of each.

The KFP wrapper (``components/deploy/component.py``) must spell its signature out literally (KFP embeds the
function's source in the compiled YAML), so ``tests/deploy/test_deploy_params.py`` proves that the wrapper's
signature, the ``train_and_deploy`` pipeline and this dataclass agree. ``deploy_model`` takes a
:class:`DeployParams`; the InferenceService builder reads it; the CLI derives its options from it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

RUNTIMES = ("kfx", "tensorflow")
ROLLOUTS = ("canary", "direct")
#: ``auto`` follows the live InferenceService (``serving.kserve.io/deploymentMode``), else Knative.
DEPLOYMENT_MODES = ("auto", "knative", "serverless", "standard", "rawdeployment")


def _param(default: Any, help: str) -> Any:  # noqa: A002  (the field metadata key is "help")
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class DeployParams:
    """Where and how one model is deployed (no defaults for the three that name the target)."""

    name: str = dataclasses.field(metadata={"help": "InferenceService name (DNS-1035 label, <= 45 characters)"})
    namespace: str = dataclasses.field(metadata={"help": "Kubernetes namespace of the InferenceService"})
    storage_uri: str = dataclasses.field(
        metadata={"help": "root the model is pushed under: <root>/<name>/<digest>/ (local path, gs://, s3://)"}
    )
    canary_traffic_percent: int = _param(10, "share of traffic the new model gets before promotion (canary)")
    runtime: str = _param("kfx", "serving runtime: kfx (kfx-predictor ServingRuntime) or tensorflow (TF Serving)")
    cpu_request: str = _param("500m", "predictor CPU request")
    memory_request: str = _param("1Gi", "predictor memory request")
    cpu_limit: str = _param("1", "predictor CPU limit")
    memory_limit: str = _param("2Gi", "predictor memory limit")
    service_account: str = _param("", "ServiceAccount of the predictor pods (storage credentials), '' = default")
    rollout: str = _param("canary", "canary (test on a share, then promote) or direct (replace, then test)")
    deployment_mode: str = _param(
        "auto", "KServe deployment mode: auto (follow the live InferenceService), knative/serverless, standard"
    )
    timeout_seconds: int = _param(600, "how long to wait for the new model to become ready")
    smoke_rows: int = _param(8, "eval rows sent as smoke requests before any traffic moves to the new model")

    def __post_init__(self) -> None:
        object.__setattr__(self, "deployment_mode", self.deployment_mode.lower())


def fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(DeployParams))


def defaults() -> dict[str, Any]:
    """{name: default} of the parameters that have one."""
    return {f.name: f.default for f in fields() if f.default is not dataclasses.MISSING}
