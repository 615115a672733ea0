"""The end-to-end pipeline run.sh submits to a cluster: resolve the served baseline, train, evaluate, deploy.

resolve_baseline -> ingest -> statistics -> schema -> validate -> transform -> train -> evaluate (against the
served model, when there is one) -> deploy (canary, smoke test on eval rows, promote or roll back).

Compiled by ``make compile`` to ``pipelines/compiled/<version>/train_and_deploy.yaml``; manifests/kind/run.sh
submits it to a kind cluster.
"""

from kfp import dsl

from components._shared.version import __version__
from components.deploy.component import deploy, resolve_baseline
from pipelines.params import with_training_params
from pipelines.training import training_steps

MINIO_ENV = {
    "S3_ENDPOINT": "minio-service.kubeflow.svc.cluster.local:9000",
    "S3_USE_HTTPS": "0",
    "S3_VERIFY_SSL": "0",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "minio",
    "AWS_SECRET_ACCESS_KEY": "minio123",
}


@dsl.pipeline(name="kfx-train-and-deploy", description=f"kfx {__version__}: train, bless, deploy to KServe")
@with_training_params(exclude=("baseline_model_uri",), defaults={"value_thresholds": {"auc": 0.7}})
def train_and_deploy(
    params: dict,  # the training parameters (components._shared.params.TrainingParams), baseline excluded
    model_name: str = "kfx-model",
    namespace: str = "kfx",
    storage_uri: str = "s3://mlpipeline/kfx-models",
    canary_traffic_percent: int = 10,
    runtime: str = "kfx",
    rollout: str = "canary",
    service_account: str = "kfx-models",
) -> None:
    """Train, bless against the served model, deploy to KServe."""
    baseline = resolve_baseline(name=model_name, namespace=namespace).set_display_name("resolve baseline")
    steps = training_steps(params, baseline_model_uri=baseline.output)
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
        service_account=service_account,
    ).set_display_name("deploy")
    # The deploy step writes to the in-cluster MinIO of KFP standalone through tensorflow-io's s3:// filesystem.
    # Local-cluster defaults only: on a real cluster inject credentials from a Secret (kfp-kubernetes).
    # ingest reads the s3:// data the same way.
    for task in (examples, pushed):
        for key, value in MINIO_ENV.items():
            task.set_env_variable(key, value)
