"""The end-to-end pipeline run.sh submits to a cluster: resolve the served baseline, train, evaluate, deploy.

resolve_baseline (the served model as a Model artifact) -> ingest -> statistics -> schema -> validate -> transform -> train -> evaluate (against the
served model, when there is one) -> deploy (canary, smoke test on eval rows, promote or roll back).

Every task that touches object storage gets the storage configuration from the Secret ``kfx-s3``
(``pipelines/cluster.py``); no credential is in the compiled YAML. Submit runs with the service account
``kfx-deployer`` (README, section Cluster).

Compiled by ``make compile`` to ``pipelines/compiled/<version>/train_and_deploy.yaml``; manifests/kind/run.sh
submits it to a kind cluster.
"""

from typing import Dict, List

from kfp import dsl

from components._shared.version import __version__
from components.deploy.component import deploy, resolve_baseline
from pipelines.cluster import use_object_store
from pipelines.training import training_steps


@dsl.pipeline(name="kfx-train-and-deploy", description=f"kfx {__version__}: train, bless, deploy to KServe")
def train_and_deploy(
    data_uri: str,
    model_name: str = "kfx-model",
    namespace: str = "kfx",
    storage_uri: str = "s3://mlpipeline/kfx-models",
    module_file: str = "pipelines.modules.fraud",
    label_key: str = "is_fraud",
    raw_label_key: str = "is_fraud",
    task: str = "binary",
    epochs: int = 5,
    value_thresholds: Dict[str, float] = {"auc": 0.7},  # KFP parameter default, never mutated
    change_thresholds: Dict[str, float] = {},  # KFP parameter default, never mutated
    slice_features: List[str] = [],  # KFP parameter default, never mutated
    canary_traffic_percent: int = 10,
    runtime: str = "kfx",
    rollout: str = "canary",
    deployment_mode: str = "auto",
    service_account: str = "kfx-models",
) -> None:
    baseline = resolve_baseline(name=model_name, namespace=namespace).set_display_name("resolve baseline")
    steps = training_steps(
        data_uri=data_uri,
        module_file=module_file,
        label_key=label_key,
        raw_label_key=raw_label_key,
        task=task,
        slice_features=slice_features,
        value_thresholds=value_thresholds,
        change_thresholds=change_thresholds,
        # After merging h/evaluate: baseline_model=baseline.outputs["baseline"] (evaluate takes Input[Model]).
        epochs=epochs,
    )
    examples, trained, evaluation = steps["ingest"], steps["train"], steps["evaluate"]
    pushed = deploy(
        model=trained.outputs["model"],
        blessing=evaluation.outputs["blessing"],
        examples=examples.outputs["examples"],
        name=model_name,
        namespace=namespace,
        storage_uri=storage_uri,
        canary_traffic_percent=canary_traffic_percent,
        runtime=runtime,
        rollout=rollout,
        deployment_mode=deployment_mode,
        service_account=service_account,
    ).set_display_name("deploy")
    for task in (baseline, examples, steps["transform"], trained, evaluation, pushed):
        use_object_store(task)
