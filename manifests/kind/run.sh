#!/usr/bin/env bash
# Run kfx end to end on the kind cluster install.sh prepared: compile the train-and-deploy pipeline, upload
# the sample data to MinIO, run the pipeline on KFP, wait for it, and call the deployed model.
#
#   manifests/kind/run.sh
#
# Needs: kubectl pointing at the cluster, and the project's components environment (make install).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
NAMESPACE="${NAMESPACE:-kfx}"
MODEL_NAME="${MODEL_NAME:-kfx-model}"
KFP_PORT="${KFP_PORT:-8888}"
MINIO_PORT="${MINIO_PORT:-9900}"
INGRESS="${INGRESS:-http://localhost:8081}"   # Kourier NodePort mapped by cluster.yaml
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

say "port-forwards: KFP API :$KFP_PORT, MinIO :$MINIO_PORT"
kubectl -n kubeflow port-forward svc/ml-pipeline "$KFP_PORT:8888" >/dev/null 2>&1 & PIDS+=($!)
kubectl -n kubeflow port-forward svc/minio-service "$MINIO_PORT:9000" >/dev/null 2>&1 & PIDS+=($!)
sleep 3

say "compile the pipeline"
(cd "$ROOT" && "$PY" -m pipelines.compile --out "$WORK")

say "sample data -> s3://mlpipeline/kfx-data/fraud.csv"
# MinIO's credentials come from the cluster (KFP's own Secret), never from this repository.
export AWS_ACCESS_KEY_ID="$(kubectl -n kubeflow get secret mlpipeline-minio-artifact -o jsonpath='{.data.accesskey}' | base64 -d)"
export AWS_SECRET_ACCESS_KEY="$(kubectl -n kubeflow get secret mlpipeline-minio-artifact -o jsonpath='{.data.secretkey}' | base64 -d)"
"$PY" - "$WORK" "$MINIO_PORT" <<'PYEOF'
import os, subprocess, sys
work, port = sys.argv[1], sys.argv[2]
csv = os.path.join(work, "fraud.csv")
subprocess.run([sys.executable, "-m", "components.datagen", "--rows", "20000", "--out", csv], check=True)
os.environ.update(S3_ENDPOINT=f"http://localhost:{port}", S3_USE_HTTPS="0", S3_VERIFY_SSL="0", AWS_REGION="us-east-1")
import tensorflow_io  # noqa: F401  (s3:// for tf.io.gfile)
import tensorflow as tf
tf.io.gfile.copy(csv, "s3://mlpipeline/kfx-data/fraud.csv", overwrite=True)
import json, pandas as pd
row = pd.read_csv(csv, nrows=1).drop(columns=["is_fraud"]).iloc[0].dropna().to_dict()
with open(os.path.join(work, "request.json"), "w") as f:  # one real row, for the curl at the end
    json.dump({"instances": [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}]}, f)
PYEOF

say "run on KFP (this trains, evaluates against the served model, and deploys with a canary)"
"$PY" - "$WORK/train_and_deploy.yaml" "$KFP_PORT" "$NAMESPACE" "$MODEL_NAME" <<'PYEOF'
import sys
import kfp
package, port, namespace, model_name = sys.argv[1:5]
client = kfp.Client(host=f"http://localhost:{port}")
run = client.create_run_from_pipeline_package(
    package, arguments={"data_uri": "s3://mlpipeline/kfx-data/fraud.csv", "namespace": namespace,
                        "model_name": model_name}, run_name="kfx-train-and-deploy",
    service_account="kfx-deployer")  # the only identity bound to Role kfx-deployer (manifests/base/rbac.yaml)
print(f"run {run.run_id}: http://localhost:{port} (or the KFP UI)")
result = client.wait_for_run_completion(run.run_id, timeout=3600)
state = getattr(result, "state", None) or result.run.status
print("state:", state)
sys.exit(0 if str(state).upper() in ("SUCCEEDED", "SUCCESS") else 1)
PYEOF

say "InferenceService $NAMESPACE/$MODEL_NAME ($PY -m components.deploy status|rollback --name ... --namespace ...)"
kubectl -n "$NAMESPACE" get isvc "$MODEL_NAME"
HOST="$(kubectl -n "$NAMESPACE" get isvc "$MODEL_NAME" -o jsonpath='{.status.url}' | sed 's#^https\?://##')"
ROW="$(cat "$WORK/request.json")"
echo "curl -H 'Host: $HOST' $INGRESS/v1/models/$MODEL_NAME:predict -d '$ROW'"
curl -sf -H "Host: $HOST" "$INGRESS/v1/models/$MODEL_NAME:predict" -d "$ROW"
echo
