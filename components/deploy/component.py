"""KFP wrappers: deploy (blessed model -> KServe), resolve_baseline (served model -> Model artifact), rollback.

The deploy signature is spelled out (KFP embeds this source); it must match ``components/deploy/params.py``
(``tests/deploy/test_deploy_params.py`` checks).
"""

from typing import NamedTuple, Optional

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
    deployment_mode: str = "auto",
    timeout_seconds: int = 600,
    smoke_rows: int = 8,
    statistics: Optional[Input[Dataset]] = None,  # noqa: UP045  the training evidence, pushed with the model
    schema: Optional[Input[Dataset]] = None,  # noqa: UP045
) -> NamedTuple("DeployOutputs", endpoint=str, revision=str, deployed=bool):
    """Deploy a blessed model to KServe: push to storage_uri/<name>/<digest>/ (with lineage.json and the training
    statistics and schema as evidence/), test, move traffic or roll back; lineage as annotations."""
    from collections import namedtuple

    import components  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    from components._shared.kinds import check_inputs
    from components.deploy.logic import DeployError, DeployParams, deploy_model
    from components.deploy.smoke import eval_rows

    check_inputs("deploy", model=model, blessing=blessing, examples=examples, statistics=statistics, schema=schema)
    args = {k: v for k, v in locals().items() if k in DeployParams.__dataclass_fields__}
    params = DeployParams(**args)
    evidence = {"statistics_dir": statistics.path if statistics else "", "schema_dir": schema.path if schema else ""}
    try:
        result = deploy_model(model.path, blessing.path, params, smoke_instances=eval_rows(examples.path, smoke_rows),
                              **evidence)  # fmt: skip
    except DeployError as e:
        with open(report.path, "w") as f:
            f.write(f"# Deploy `{namespace}/{name}`\n\n**failed**: {e}\n")
        raise
    with open(report.path, "w") as f:
        f.write(result.markdown(name, namespace))
    report.metadata.update({"deployed": result.deployed, "endpoint": result.url, "revision": result.revision,
                            "storage_uri": result.storage_uri, "mode": result.mode})  # fmt: skip
    return namedtuple("DeployOutputs", ["endpoint", "revision", "deployed"])(
        result.url, result.revision, result.deployed
    )


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def resolve_baseline(name: str, namespace: str, baseline: Output[Model]) -> None:
    """The model InferenceService namespace/name serves now, as a Model artifact whose URI is the served model
    (nothing copied); metadata["present"] is False when nothing is served (KFP has no optional outputs)."""
    import components  # noqa: F401
    from components._shared.kinds import MODEL, stamp
    from components.deploy.baseline import record_baseline
    from components.deploy.baseline import resolve_baseline as resolve

    stamp(baseline, MODEL)
    record_baseline(baseline, resolve(name, namespace))


@dsl.component(base_image=runtime_image(), install_kfp_package=False)
def rollback(name: str, namespace: str, report: Output[Markdown], timeout_seconds: int = 600) -> str:
    """Roll namespace/name back to the model served before the last kfx rollout; returns the storage URI served."""
    import json

    import components  # noqa: F401
    from components.deploy.logic import roll_back

    out = roll_back(name, namespace, timeout_seconds=timeout_seconds)
    with open(report.path, "w") as f:
        f.write(f"# Rollback `{namespace}/{name}`\n\nfrom `{out['from']}` to `{out['to']}`\n\n```json\n"
                f"{json.dumps(out, indent=2)}\n```\n")  # fmt: skip
    return out["to"]
