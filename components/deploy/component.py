"""KFP wrappers of deploy (blessed model -> KServe InferenceService) and resolve_baseline (served model URI)."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Model, Output

from components._shared.image import runtime_image


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def deploy(
    model: Input[Model],
    blessing: Input[Dataset],
    examples: Input[Dataset],
    report: Output[Markdown],
    name: str,
    namespace: str,
    storage_uri: str,
    canary_traffic_percent: int = 10,
    runtime: str = "kfx",
    cpu_request: str = "500m",
    memory_request: str = "1Gi",
    cpu_limit: str = "1",
    memory_limit: str = "2Gi",
    service_account: str = "",
    rollout: str = "canary",
    timeout_seconds: int = 600,
    smoke_rows: int = 8,
) -> NamedTuple("DeployOutputs", endpoint=str, revision=str, deployed=bool):
    """Deploy a blessed model to KServe: push to storage_uri/<name>/<digest>/, canary, smoke test, promote or roll back."""
    from collections import namedtuple

    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components.deploy.logic import DeployError, deploy_model, eval_rows, versioned_storage_uri

    outputs = namedtuple("DeployOutputs", ["endpoint", "revision", "deployed"])
    target = versioned_storage_uri(storage_uri, name, model.path)
    try:
        result = deploy_model(
            model.path, blessing.path, name, namespace, target,
            canary_traffic_percent=canary_traffic_percent, runtime=runtime,
            cpu_request=cpu_request, memory_request=memory_request, cpu_limit=cpu_limit, memory_limit=memory_limit,
            service_account=service_account, rollout=rollout, timeout_seconds=timeout_seconds,
            smoke_instances=eval_rows(examples.path, smoke_rows),
        )  # fmt: skip
    except DeployError as e:
        with open(report.path, "w") as f:
            f.write(f"# Deploy `{namespace}/{name}`\n\n**failed**: {e}\n")
        raise
    with open(report.path, "w") as f:
        f.write(result.markdown(name, namespace))
    report.metadata.update({"deployed": result.deployed, "endpoint": result.url, "revision": result.revision,
                            "storage_uri": result.storage_uri})  # fmt: skip
    return outputs(result.url, result.revision, result.deployed)


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def resolve_baseline(name: str, namespace: str) -> str:
    """Storage URI of the model InferenceService namespace/name currently serves ("" = no baseline)."""
    import components  # noqa: F401
    from components.deploy.logic import resolve_baseline as resolve

    return resolve(name, namespace) or ""
