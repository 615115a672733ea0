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

say "namespace '$NAMESPACE': RBAC, MinIO storage secret, kfx-predictor ServingRuntime"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
# Only the setup objects; the deploy step creates the InferenceService itself.
kubectl apply -k "$ROOT/manifests/overlays/kind" -l kfx.dev/part=setup

say "done: run manifests/kind/run.sh"
