"""A small kustomize renderer for the subset kfx's ``manifests/`` use — a fallback for machines without
``kubectl`` (``kubectl kustomize`` is the real thing and is preferred; tests/unit/test_manifests.py checks both
give the same objects whenever kubectl is present).

Supported: ``resources`` (files and directories holding a kustomization), ``namespace`` (namespaced kinds, and
``ServiceAccount`` subjects of (Cluster)RoleBindings that name no namespace), ``namePrefix``, ``labels``
(``pairs``, metadata only), ``images`` (``name`` -> ``newName`` / ``newTag`` / ``digest`` on ``containers`` /
``initContainers`` images), ``patches`` (``path`` or inline ``patch``; strategic-merge documents, merged by
``name`` in lists of named objects, or JSON 6902 operation lists; ``target`` by kind / name / labelSelector).
Anything else in a kustomization raises, so the renderer never silently ignores a field.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import yaml

KNOWN = {"apiVersion", "kind", "resources", "namespace", "namePrefix", "labels", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "ClusterServingRuntime", "ClusterStorageContainer", "StorageClass", "PersistentVolume"}  # fmt: skip


class KustomizeError(ValueError):
    pass


def render(directory: str) -> list[dict]:
    """The objects ``kubectl kustomize directory`` would print (order aside)."""
    path = os.path.join(directory, "kustomization.yaml")
    with open(path) as f:
        k = yaml.safe_load(f) or {}
    unknown = set(k) - KNOWN
    if unknown:
        raise KustomizeError(f"{path}: fields {sorted(unknown)} are not supported by this renderer")
    objects: list[dict] = []
    for res in k.get("resources") or []:
        full = os.path.normpath(os.path.join(directory, res))
        if os.path.isdir(full):
            objects += render(full)
        else:
            with open(full) as f:
                objects += [d for d in yaml.safe_load_all(f) if d]
    for p in k.get("patches") or []:
        objects = _patch(objects, p, directory)
    if k.get("namePrefix"):
        for o in objects:
            o["metadata"]["name"] = k["namePrefix"] + o["metadata"]["name"]
    if k.get("namespace"):
        for o in objects:
            if o["kind"] not in CLUSTER_SCOPED:
                o["metadata"]["namespace"] = k["namespace"]
            if o["kind"] in ("RoleBinding", "ClusterRoleBinding"):
                for s in o.get("subjects") or []:
                    if s.get("kind") == "ServiceAccount" and not s.get("namespace"):
                        s["namespace"] = k["namespace"]
    for entry in k.get("labels") or []:
        if entry.get("includeSelectors") or entry.get("includeTemplates"):
            raise KustomizeError("labels with includeSelectors/includeTemplates are not supported by this renderer")
        for o in objects:
            o["metadata"].setdefault("labels", {}).update(entry.get("pairs") or {})
    for image in k.get("images") or []:
        for o in objects:
            _set_images(o, image)
    return objects


def _matches(obj: dict, target: dict) -> bool:
    if "kind" in target and obj.get("kind") != target["kind"]:
        return False
    if "name" in target and obj["metadata"].get("name") != target["name"]:
        return False
    if "labelSelector" in target:
        labels = obj["metadata"].get("labels") or {}
        for term in target["labelSelector"].split(","):
            key, _, value = term.partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def _patch(objects: list[dict], p: dict, directory: str) -> list[dict]:
    if "path" in p:
        with open(os.path.join(directory, p["path"])) as f:
            body = yaml.safe_load(f)
    else:
        body = yaml.safe_load(p["patch"])
    if isinstance(body, list):  # JSON 6902
        target = p.get("target") or {}
        if not target:
            raise KustomizeError("a JSON 6902 patch needs a target")
        from tests.doubles.kube_api import apply_json_patch

        return [apply_json_patch(o, body) if _matches(o, target) else o for o in objects]
    target = p.get("target") or {"kind": body["kind"], "name": body["metadata"]["name"]}
    hits = 0
    out = []
    for o in objects:
        if _matches(o, target):
            hits += 1
            patched = strategic_merge(o, {k: v for k, v in body.items() if k not in ("apiVersion", "kind")})
            if "name" not in target:  # a targeted SMP keeps each object's own name
                patched["metadata"]["name"] = o["metadata"]["name"]
            o = patched
        out.append(o)
    if not hits:
        raise KustomizeError(f"patch target {target} matches no resource")
    return out


def strategic_merge(base: Any, patch: Any) -> Any:
    """Strategic merge for plain maps, ``null`` deletes, and lists of objects merged by ``name``."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = strategic_merge(out.get(k), v)
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(x, dict) and "name" in x for x in base + patch)
    ):
        out = copy.deepcopy(base)
        for item in patch:
            for i, existing in enumerate(out):
                if existing["name"] == item["name"]:
                    out[i] = strategic_merge(existing, item)
                    break
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _set_images(node: Any, image: dict) -> None:
    if isinstance(node, dict):
        for key in ("containers", "initContainers"):
            for c in node.get(key) or []:
                if isinstance(c, dict) and isinstance(c.get("image"), str):
                    c["image"] = _new_image(c["image"], image)
        for v in node.values():
            _set_images(v, image)
    elif isinstance(node, list):
        for v in node:
            _set_images(v, image)


def _new_image(ref: str, image: dict) -> str:
    name, tag, digest = ref, "", ""
    if "@" in name:
        name, digest = name.split("@", 1)
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    if name != image["name"]:
        return ref
    name = image.get("newName", name)
    if image.get("digest"):
        return f"{name}@{image['digest']}"
    tag = image.get("newTag", tag)
    return f"{name}:{tag}" if tag else (f"{name}@{digest}" if digest else name)
