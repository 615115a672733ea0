"""The rehearsal's KFP launcher for one task: executor input, placeholders, pod environment, artifacts in and out.

It does what KFP v2's driver and launcher do around a container, from the compiled IR only:
- the ExecutorInput (kfp.local's ``construct_executor_input``), output artifact URIs under the ``s3://`` pipeline
  root, output parameter and executor-output files under the pod's ``/tmp``;
- the command: the executor's ``command`` + ``args`` with placeholders resolved by kfp.local's resolver;
- the environment: the image's ``ENV``, the executor's ``env``, its Kubernetes platform config (Secrets as env
  from the Secret stand-in, ConfigMaps, field paths) and what the kubelet adds (``HOSTNAME``, ``HOME``, ``PATH``);
- input artifacts downloaded from the S3 test double to ``/s3/<bucket>/<key>`` before the step; output artifacts
  uploaded after it, ONLY when it exited 0 (a failed step publishes nothing, as on a cluster).
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field
from typing import Any

from kfp.local import executor_input_utils, executor_output_utils, placeholder_utils
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.rehearsal.pod import S3_MOUNT, Pod
from tests.rehearsal.s3 import S3TestDouble
from tests.rehearsal.secrets import SecretError, SecretStore

EXECUTOR_OUTPUT = "/tmp/kfp_outputs/output_metadata.json"
PARAMETER_OUTPUTS = "/tmp/kfp/outputs"


@dataclass
class TaskResult:
    """What the rehearsal observed for one task."""

    name: str
    state: str  # SUCCEEDED | FAILED | SKIPPED
    outputs: dict[str, Any] = field(default_factory=dict)
    log: str = ""
    reason: str = ""
    killed: bool = False
    seconds: float = 0.0


@dataclass
class LaunchContext:
    """Everything a task launch needs that is not in its own IR."""

    pipeline_name: str
    run_id: str
    pipeline_root: str  # s3://bucket/prefix
    pipeline_args: dict[str, Any]
    s3: S3TestDouble
    secrets: SecretStore
    hosts_file: str
    base_env: dict[str, str]  # image ENV + PATH (the image-equivalent interpreter first)
    kubelet_env: dict[str, str]  # what every pod of the namespace gets (KUBERNETES_SERVICE_*, ...)
    field_paths: dict[str, str]  # fieldPathAsEnv values (metadata.namespace, ...)
    work_dir: str
    home_files: dict[str, str] = field(default_factory=dict)  # relative path under HOME -> content
    timeout: float = 900.0


def launch(
    ctx: LaunchContext,
    task_name: str,
    component_spec: pipeline_spec_pb2.ComponentSpec,
    container: pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec,
    platform: dict,
    arguments: dict[str, Any],
    kill_when: Any = None,
) -> TaskResult:
    """Run one container task of the IR as a pod; outputs only when it succeeded."""
    pod = Pod(os.path.join(ctx.work_dir, task_name), hosts_file=ctx.hosts_file)
    task_root = f"{ctx.pipeline_root.rstrip('/')}/{ctx.pipeline_name}/{ctx.run_id}/{task_name}"
    executor_input = executor_input_utils.construct_executor_input(
        component_spec=component_spec, arguments=arguments, task_root=task_root, block_input_artifact=False
    )
    for name, param in executor_input.outputs.parameters.items():
        param.output_file = f"{PARAMETER_OUTPUTS}/{name}"
    executor_input.outputs.output_file = EXECUTOR_OUTPUT
    try:
        env = pod_env(ctx, pod, container, platform)
    except SecretError as e:
        return TaskResult(task_name, "FAILED", reason=str(e))
    command = placeholder_utils.replace_placeholders(
        full_command=[*container.command, *container.args],
        executor_input_dict=executor_input_utils.executor_input_to_dict(executor_input, component_spec),
        pipeline_resource_name=f"{ctx.pipeline_name}-{ctx.run_id}",
        task_resource_name=task_name,
        pipeline_root=ctx.pipeline_root,
        unique_pipeline_id=ctx.run_id,
    )
    _download_inputs(ctx.s3, pod, executor_input)
    for path in (EXECUTOR_OUTPUT, *(p.output_file for p in executor_input.outputs.parameters.values())):
        os.makedirs(os.path.dirname(pod.host_path(path)), exist_ok=True)
    for artifact in _artifacts(executor_input.outputs.artifacts):
        os.makedirs(os.path.dirname(pod.host_path(_local(artifact.uri))), exist_ok=True)
    for rel, content in ctx.home_files.items():
        path = os.path.join(pod.home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)
    started = time.monotonic()
    result = pod.run(command, env, ctx.timeout, kill_when=kill_when)
    seconds = time.monotonic() - started
    if result.exit_code != 0:
        why = "killed" if result.killed else f"exit code {result.exit_code}"
        return TaskResult(task_name, "FAILED", log=result.log, reason=why, killed=result.killed, seconds=seconds)
    return TaskResult(task_name, "SUCCEEDED", outputs=_publish(ctx.s3, pod, executor_input, component_spec),
                      log=result.log, seconds=seconds)  # fmt: skip


def pod_env(ctx: LaunchContext, pod: Pod, container: Any, platform: dict) -> dict[str, str]:
    """The pod's environment, in Kubernetes' precedence: image ENV < container env (IR env, then platform)."""
    env = {**ctx.base_env, "HOME": pod.home, "HOSTNAME": f"{ctx.pipeline_name}-{ctx.run_id}"[:63]}
    env.update(ctx.kubelet_env)
    for var in container.env:
        env[var.name] = var.value
    for ref in platform.get("secretAsEnv", []):
        name = _name(ctx, ref, "secretName")
        for item in ref.get("keyToEnv", []):
            value = ctx.secrets.value(name, item["secretKey"], optional=bool(ref.get("optional")))
            if value is not None:
                env[item["envVar"]] = value
    for ref in platform.get("fieldPathAsEnv", []):
        if ref["fieldPath"] not in ctx.field_paths:
            raise SecretError(f"fieldPath {ref['fieldPath']!r} is not rehearsed (known: {sorted(ctx.field_paths)})")
        env[ref["name"]] = ctx.field_paths[ref["fieldPath"]]
    unsupported = sorted(set(platform) - {"secretAsEnv", "fieldPathAsEnv"})
    if unsupported:
        raise SecretError(f"the rehearsal does not rehearse the Kubernetes platform config {unsupported}")
    return env


def _name(ctx: LaunchContext, ref: dict, key: str) -> str:
    param = ref.get(f"{key}Parameter") or {}
    if "componentInputParameter" in param:
        return str(ctx.pipeline_args[param["componentInputParameter"]])
    if "runtimeValue" in param:
        return str(param["runtimeValue"]["constant"])
    return ref[key]


def _local(uri: str) -> str:
    if not uri.startswith("s3://"):
        raise ValueError(f"the rehearsal keeps artifacts on s3:// only, got {uri!r}")
    return S3_MOUNT + "/" + uri[len("s3://") :]


def _artifacts(artifact_lists: Any) -> list[Any]:
    return [a for lst in artifact_lists.values() for a in lst.artifacts]


def _download_inputs(s3: S3TestDouble, pod: Pod, executor_input: Any) -> None:
    for artifact in _artifacts(executor_input.inputs.artifacts):
        s3.download(artifact.uri, pod.host_path(_local(artifact.uri)))


def _publish(s3: S3TestDouble, pod: Pod, executor_input: Any, component_spec: Any) -> dict[str, Any]:
    """Upload the output artifacts and read the outputs, as the launcher does after a successful step."""
    host_view = copy.deepcopy(executor_input)
    host_view.outputs.output_file = pod.host_path(executor_input.outputs.output_file)
    for param in host_view.outputs.parameters.values():
        param.output_file = pod.host_path(param.output_file)
    for artifact in _artifacts(executor_input.outputs.artifacts):
        local = pod.host_path(_local(artifact.uri))
        if os.path.exists(local):
            s3.upload(local, artifact.uri)
    return executor_output_utils.get_outputs_for_task(host_view, component_spec)
