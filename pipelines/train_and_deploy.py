"""The end-to-end pipeline run.sh submits to a cluster: resolve the served baseline, train, evaluate, deploy.

resolve_baseline (the served model as a Model artifact) -> ingest -> statistics -> schema -> validate -> transform -> train -> evaluate (against the
served model, when there is one) -> deploy (canary, smoke test on eval rows, promote or roll back).

Every task that touches object storage gets the storage configuration from the Secret ``kfx-s3``
(``pipelines/cluster.py``); no credential is in the compiled YAML. Submit runs with the service account
``kfx-deployer`` (README, section Cluster).

Compiled by ``make compile`` to ``pipelines/compiled/<version>/train_and_deploy.yaml``; manifests/kind/run.sh
submits it to a kind cluster.
"""

from kfp import dsl

from components._shared.version import __version__
from components.deploy.component import deploy, resolve_baseline
from pipelines.cluster import use_object_store
from pipelines.params import with_training_params
from pipelines.training import training_steps

PIPELINE_NAME = "kfx-train-and-deploy"


@dsl.pipeline(name=PIPELINE_NAME, description=f"kfx {__version__}: train, bless, deploy to KServe")
@with_training_params(exclude=("baseline_model_uri",), defaults={"value_thresholds": {"auc": 0.7}})
def train_and_deploy(
    params: dict,  # the training parameters (components._shared.params.TrainingParams), baseline excluded
    model_name: str = "kfx-model",
    namespace: str = "kfx",
    storage_uri: str = "s3://mlpipeline/kfx-models",
    canary_traffic_percent: int = 10,
    runtime: str = "kfx",
    rollout: str = "canary",
    deployment_mode: str = "auto",
    service_account: str = "kfx-models",
) -> None:
    """Train, bless against the served model, deploy to KServe."""
    baseline = resolve_baseline(name=model_name, namespace=namespace).set_display_name("resolve baseline")
    steps = training_steps(
        params, extra={"evaluate": {"baseline_model": baseline.outputs["baseline"]}}, pipeline_name=PIPELINE_NAME
    )
    examples, trained, evaluation = steps["ingest"], steps["train"], steps["evaluate"]
    pushed = deploy(
        model=trained.outputs["model"],
        blessing=evaluation.outputs["blessing"],
        examples=examples.outputs["examples"],
        statistics=steps["statistics"].outputs["statistics"],  # the training evidence, pushed with the model
        schema=steps["schema"].outputs["schema"],
        name=model_name,
        namespace=namespace,
        storage_uri=storage_uri,
        canary_traffic_percent=canary_traffic_percent,
        runtime=runtime,
        rollout=rollout,
        deployment_mode=deployment_mode,
        service_account=service_account,
    ).set_display_name("deploy")
    # every task that reads or writes object storage (schema: a curated s3:// schema; validate: previous/serving
    # statistics URIs) gets the same storage configuration
    for name in ("ingest", "schema", "validate", "transform", "train", "evaluate"):
        use_object_store(steps[name])
    for task in (baseline, pushed):
        use_object_store(task)
        # what is served changes between runs: a cached answer from an earlier run would be wrong
        task.set_caching_options(False)
