#!/usr/bin/env bash
# Create a kind cluster and install what kfx needs, for users with Docker (this can't run without a Docker
# engine): cert-manager, Knative Serving + Kourier, KServe (Serverless mode), KFP standalone, kfx's images
# and the namespace setup of manifests/overlays/kind (RBAC, MinIO storage secret, kfx-predictor runtime).
#
#   manifests/kind/install.sh            # then manifests/kind/run.sh
#
# Needs: docker, kind, kubectl (>= 1.27, with kustomize). Versions are overridable from the environment.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER="${CLUSTER:-kfx}"
NAMESPACE="${NAMESPACE:-kfx}"
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.16.2}"
KNATIVE_VERSION="${KNATIVE_VERSION:-knative-v1.16.0}"
KOURIER_VERSION="${KOURIER_VERSION:-knative-v1.16.0}"
KSERVE_VERSION="${KSERVE_VERSION:-v0.15.2}"
KFP_VERSION="${KFP_VERSION:-2.5.0}"
VERSION="$(cd "$ROOT" && sed -n 's/^__version__ = "\(.*\)"/\1/p' components/_shared/version.py)"
RUNTIME_IMAGE="ghcr.io/kfx-ml/kfx-runtime:${VERSION}"
SERVING_IMAGE="kfx-serving:dev"   # manifests/overlays/kind rewrites the ServingRuntime image to this

say() { printf '\n== %s\n' "$*"; }
need() { command -v "$1" >/dev/null || { echo "install.sh needs '$1' on the PATH" >&2; exit 1; }; }
need docker; need kind; need kubectl

say "kind cluster '$CLUSTER'"
if ! kind get clusters | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --config "$ROOT/manifests/kind/cluster.yaml" --wait 120s
fi
kubectl config use-context "kind-$CLUSTER"

say "cert-manager $CERT_MANAGER_VERSION"
kubectl apply -f "https://github.com/cert-manager/cert-manager/releases/download/${CERT_MANAGER_VERSION}/cert-manager.yaml"
kubectl -n cert-manager rollout status deploy/cert-manager-webhook --timeout=300s

say "Knative Serving $KNATIVE_VERSION + Kourier $KOURIER_VERSION"
kubectl apply -f "https://github.com/knative/serving/releases/download/${KNATIVE_VERSION}/serving-crds.yaml"
kubectl apply -f "https://github.com/knative/serving/releases/download/${KNATIVE_VERSION}/serving-core.yaml"
kubectl apply -f "https://github.com/knative/net-kourier/releases/download/${KOURIER_VERSION}/kourier.yaml"
kubectl patch configmap/config-network -n knative-serving --type merge \
  -p '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'
kubectl patch configmap/config-domain -n knative-serving --type merge -p '{"data":{"example.com":""}}'
kubectl -n kourier-system patch service kourier --type json \
  -p '[{"op":"replace","path":"/spec/type","value":"NodePort"},{"op":"replace","path":"/spec/ports/0/nodePort","value":31080}]'
kubectl -n knative-serving rollout status deploy/controller --timeout=300s
kubectl -n knative-serving rollout status deploy/webhook --timeout=300s

say "KServe $KSERVE_VERSION (Serverless mode: needed for canary rollouts)"
kubectl apply --server-side -f "https://github.com/kserve/kserve/releases/download/${KSERVE_VERSION}/kserve.yaml"
kubectl -n kserve rollout status deploy/kserve-controller-manager --timeout=300s
kubectl apply --server-side -f "https://github.com/kserve/kserve/releases/download/${KSERVE_VERSION}/kserve-cluster-resources.yaml"
# Kourier instead of Istio: no Istio VirtualService for the InferenceService.
kubectl -n kserve get configmap inferenceservice-config -o json \
  | python3 -c 'import json,sys; c=json.load(sys.stdin); i=json.loads(c["data"]["ingress"]); i["disableIstioVirtualHost"]=True; c["data"]["ingress"]=json.dumps(i); print(json.dumps(c))' \
  | kubectl apply -f -

say "Kubeflow Pipelines $KFP_VERSION (standalone)"
kubectl apply -k "github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources?ref=${KFP_VERSION}"
kubectl wait --for condition=established --timeout=120s crd/applications.app.k8s.io
kubectl apply -k "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic?ref=${KFP_VERSION}"
kubectl -n kubeflow rollout status deploy/ml-pipeline --timeout=900s
kubectl -n kubeflow rollout status deploy/minio --timeout=300s

say "kfx images ($RUNTIME_IMAGE, $SERVING_IMAGE) into the kind node"
docker build -f "$ROOT/components/Dockerfile" -t "$RUNTIME_IMAGE" "$ROOT"
docker build -f "$ROOT/components/serving.Dockerfile" -t "$SERVING_IMAGE" "$ROOT"
kind load docker-image --name "$CLUSTER" "$RUNTIME_IMAGE" "$SERVING_IMAGE"

say "namespace '$NAMESPACE': setup objects, storage Secret, run service account"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
# 1. The setup objects: Secret kfx-s3 (non-secret keys), ServiceAccount kfx-models, Role kfx-deployer bound to
#    kubeflow:kfx-deployer, the kfx-predictor ServingRuntime. The deploy step creates the InferenceService itself.
kubectl apply -k "$ROOT/manifests/overlays/kind" -l kfx.dev/part=setup
# 2. MinIO's credentials into kfx-s3, copied from KFP's own Secret (none are committed), in the namespace the models
#    are served in and the one the pipelines run in (kubeflow; there with the non-secret keys too). `kubectl patch`
#    leaves what `kubectl apply` manages alone, and re-applying the overlay keeps the credentials.
KEY_ID="$(kubectl -n kubeflow get secret mlpipeline-minio-artifact -o jsonpath='{.data.accesskey}' | base64 -d)"
SECRET_KEY="$(kubectl -n kubeflow get secret mlpipeline-minio-artifact -o jsonpath='{.data.secretkey}' | base64 -d)"
CREDS="\"AWS_ACCESS_KEY_ID\":\"$KEY_ID\",\"AWS_SECRET_ACCESS_KEY\":\"$SECRET_KEY\""
CONFIG='"S3_ENDPOINT":"http://minio-service.kubeflow.svc.cluster.local:9000","S3_USE_HTTPS":"0","S3_VERIFY_SSL":"0","AWS_REGION":"us-east-1"'
kubectl -n kubeflow get secret kfx-s3 >/dev/null 2>&1 || kubectl -n kubeflow create secret generic kfx-s3
kubectl -n kubeflow patch secret kfx-s3 --type merge -p "{\"stringData\":{$CREDS,$CONFIG}}"
kubectl -n "$NAMESPACE" patch secret kfx-s3 --type merge -p "{\"stringData\":{$CREDS}}"
# 3. The runs' service account kfx-deployer in kubeflow, with what any KFP run needs (KFP's pipeline-runner
#    ClusterRole, bound in this namespace only); run.sh submits runs with it.
kubectl -n kubeflow create serviceaccount kfx-deployer --dry-run=client -o yaml | kubectl apply -f -
kubectl -n kubeflow create rolebinding kfx-deployer-runs-pipelines --clusterrole=pipeline-runner \
  --serviceaccount=kubeflow:kfx-deployer --dry-run=client -o yaml | kubectl apply -f -

say "done: run manifests/kind/run.sh"
