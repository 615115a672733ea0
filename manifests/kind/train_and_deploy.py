"""The end-to-end pipeline run.sh submits to a cluster: resolve the served baseline, train, evaluate, deploy.

resolve_baseline -> ingest -> statistics -> schema -> validate -> transform -> train -> evaluate (against the
served model, when there is one) -> deploy (canary, smoke test on eval rows, promote or roll back).

    python manifests/kind/train_and_deploy.py OUT.yaml     # compile (run.sh does this)
"""

import os
import sys
from typing import Dict, List  # noqa: UP035  (KFP reads typing generics, not dict[...])

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from kfp import compiler, dsl  # noqa: E402

from components._shared.version import __version__  # noqa: E402
from components.deploy.component import deploy, resolve_baseline  # noqa: E402
from components.evaluate.component import evaluate  # noqa: E402
from components.ingest.component import ingest  # noqa: E402
from components.schema.component import schema as schema_component  # noqa: E402
from components.statistics.component import statistics as statistics_component  # noqa: E402
from components.train.component import train  # noqa: E402
from components.transform.component import transform  # noqa: E402
from components.validate.component import validate  # noqa: E402

MINIO_ENV = {
    "S3_ENDPOINT": "minio-service.kubeflow.svc.cluster.local:9000",
    "S3_USE_HTTPS": "0",
    "S3_VERIFY_SSL": "0",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "minio",
    "AWS_SECRET_ACCESS_KEY": "minio123",
}


@dsl.pipeline(name="kfx-train-and-deploy", description=f"kfx {__version__}: train, bless, deploy to KServe")
def train_and_deploy(
    data_uri: str,
    model_name: str = "kfx-model",
    namespace: str = "kfx",
    storage_uri: str = "s3://mlpipeline/kfx-models",
    module_file: str = "pipelines.modules.fraud",
    label_key: str = "is_fraud",
    task: str = "binary",
    epochs: int = 5,
    value_thresholds: Dict[str, float] = {"auc": 0.7},  # noqa: B006, UP006  (KFP parameter defaults, never mutated)
    change_thresholds: Dict[str, float] = {},  # noqa: B006, UP006  (KFP parameter defaults, never mutated)
    slice_features: List[str] = [],  # noqa: B006, UP006  (KFP parameter defaults, never mutated)
    canary_traffic_percent: int = 10,
    runtime: str = "kfx",
    rollout: str = "canary",
    service_account: str = "kfx-models",
) -> None:
    baseline = resolve_baseline(name=model_name, namespace=namespace).set_display_name("resolve baseline")
    examples = ingest(data_uri=data_uri).set_display_name("ingest")
    stats = statistics_component(examples=examples.outputs["examples"]).set_display_name("statistics")
    schema = schema_component(statistics=stats.outputs["statistics"]).set_display_name("schema")
    gate = validate(statistics=stats.outputs["statistics"], schema=schema.outputs["schema"], label_key=label_key)
    gate.set_display_name("validate")
    tft = transform(examples=examples.outputs["examples"], schema=schema.outputs["schema"], module_file=module_file)
    tft.set_display_name("transform").after(gate)
    trained = train(
        transformed_examples=tft.outputs["transformed_examples"],
        transform_graph=tft.outputs["transform_graph"],
        module_file=module_file,
        label_key=label_key,
        task=task,
        epochs=epochs,
    ).set_display_name("train")
    evaluation = evaluate(
        model=trained.outputs["model"],
        examples=examples.outputs["examples"],
        baseline_model_uri=baseline.output,
        label_key=label_key,
        task=task,
        slice_features=slice_features,
        value_thresholds=value_thresholds,
        change_thresholds=change_thresholds,
    ).set_display_name("evaluate")
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
    for key, value in MINIO_ENV.items():
        pushed.set_env_variable(key, value)


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "train_and_deploy.yaml"
    compiler.Compiler().compile(train_and_deploy, package_path=out)
    print(out)


if __name__ == "__main__":
    main()
