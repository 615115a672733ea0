"""The IR runner of the cluster rehearsal: runs a COMMITTED compiled pipeline YAML task by task, as KFP would.

Reads ``pipelines/compiled/<version>/<name>.yaml`` (the pipeline spec and its Kubernetes platform config; never
the Python pipeline functions), orders the root DAG's tasks by their dependencies (data and ``.after()``), and
launches each container task as a pod (``tests/rehearsal/launcher.py``). As on a cluster:
- a task runs only when every upstream task succeeded (``ALL_UPSTREAM_TASKS_SUCCEEDED``; an exit-handler task,
  ``ALL_UPSTREAM_TASKS_COMPLETED``, runs once they all finished); a task whose upstream failed is SKIPPED;
  independent branches still run (a cluster runs them in parallel, the rehearsal one after another);
- a failed task publishes nothing: its outputs are discarded, downstream tasks never see them;
- ``retryPolicy.maxRetryCount`` retries a failed task;
- KFP's execution cache is on, as it is by default on a cluster: a task with ``cachingOptions.enableCache`` whose
  component, command and inputs (parameter values, input artifact URIs) match an earlier SUCCEEDED execution in
  the same ``ExecutionCache`` is not run; it gets that execution's outputs (state CACHED).
What it refuses (loudly, rather than rehearse wrongly): trigger conditions (``dsl.If``), loops, nested DAGs,
importers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from google.protobuf import json_format
from kfp.local import dag_orchestrator, graph_utils, io
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.rehearsal.launcher import LaunchContext, TaskResult, launch

COMPLETED = pipeline_spec_pb2.PipelineTaskSpec.TriggerPolicy.TriggerStrategy.ALL_UPSTREAM_TASKS_COMPLETED


class RehearsalError(RuntimeError):
    """The compiled pipeline uses something the rehearsal does not rehearse."""


@dataclass
class CompiledPipeline:
    path: str
    spec: pipeline_spec_pb2.PipelineSpec
    platform: dict  # executor label -> Kubernetes platform config

    @classmethod
    def load(cls, path: str) -> CompiledPipeline:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
        platform = {}
        for doc in docs[1:]:
            executors = doc.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
            platform.update(executors)
        return cls(path, spec, platform)

    @property
    def name(self) -> str:
        return self.spec.pipeline_info.name


@dataclass
class RunResult:
    pipeline: str
    run_id: str
    tasks: dict[str, TaskResult] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return all(t.state in ("SUCCEEDED", "CACHED") for t in self.tasks.values())

    def state(self, task: str) -> str:
        return self.tasks[task].state

    def output(self, task: str, key: str) -> Any:
        return self.tasks[task].outputs[key]

    def summary(self, log_tail: int = 3000, logs_of: tuple[str, ...] = ()) -> str:
        """Each task's state and time; the log tail of every failed task and of ``logs_of`` (assertion messages)."""
        lines = [f"{self.pipeline} run {self.run_id}:"]
        for t in self.tasks.values():
            lines.append(f"  {t.name}: {t.state} {t.seconds:.0f}s{' (' + t.reason + ')' if t.reason else ''}")
        for t in self.tasks.values():
            if (t.state == "FAILED" or t.name in logs_of) and t.log:
                lines.append(f"--- log of {t.name} (tail) ---\n{t.log[-log_tail:]}")
        return "\n".join(lines)


class ExecutionCache:
    """KFP's execution cache across runs: fingerprint -> outputs of a SUCCEEDED execution."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    @staticmethod
    def key(component_spec: Any, container: Any, arguments: dict[str, Any]) -> str:
        inputs = {k: (v.uri if hasattr(v, "uri") else v) for k, v in sorted(arguments.items())}
        blob = json.dumps(
            [json_format.MessageToDict(component_spec), json_format.MessageToDict(container), inputs],
            sort_keys=True, default=str,
        )  # fmt: skip
        return hashlib.sha256(blob.encode()).hexdigest()


def run_pipeline(
    pipeline: CompiledPipeline,
    arguments: dict[str, Any],
    ctx: LaunchContext,
    cache: ExecutionCache | None = None,
    kill_when: dict[str, Any] | None = None,
) -> RunResult:
    """Run the root DAG of ``pipeline`` with ``arguments``; ``kill_when[task]`` kills that task's pod."""
    spec = pipeline.spec
    dag = spec.root.dag
    _refuse_unsupported(spec)
    params = spec.root.input_definitions.parameters
    unknown = sorted(set(arguments) - set(params))
    if unknown:
        raise RehearsalError(f"{pipeline.name} has no parameter(s) {unknown} (a cluster rejects such a run)")
    missing = [k for k, p in params.items() if k not in arguments and not p.HasField("default_value")]
    if missing:
        raise RehearsalError(f"{pipeline.name}: missing pipeline arguments {missing}")
    args = dag_orchestrator.join_user_inputs_and_defaults(arguments, spec.root.input_definitions)
    ctx.pipeline_args = args
    store = io.IOStore()
    for k, v in args.items():
        store.put_parent_input(k, v)
    executors = json_format.MessageToDict(spec.deployment_spec, preserving_proto_field_name=False)["executors"]
    result = RunResult(pipeline.name, ctx.run_id)
    order = graph_utils.topological_sort_tasks(dag.tasks)
    while order:
        name = order.pop()
        task = dag.tasks[name]
        upstream = [result.tasks[u].state for u in task.dependent_tasks]
        ready = all(s in ("SUCCEEDED", "CACHED") for s in upstream)
        if task.trigger_policy.strategy == COMPLETED:
            ready = True
        if not ready:
            result.tasks[name] = TaskResult(name, "SKIPPED", reason="an upstream task did not succeed")
            continue
        result.tasks[name] = _run_task(pipeline, name, task, store, executors, ctx, cache, kill_when or {})
        for key, value in result.tasks[name].outputs.items():
            store.put_task_output(name, key, value)
    return result


def _run_task(pipeline, name, task, store, executors, ctx, cache, kill_when) -> TaskResult:  # noqa: ANN001
    spec = pipeline.spec
    component_spec = spec.components[task.component_ref.name]
    label = component_spec.executor_label
    container = pipeline_spec_pb2.PipelineDeploymentConfig.ExecutorSpec()
    json_format.ParseDict(executors[label], container)
    arguments = dag_orchestrator.make_task_arguments(task.inputs, store)
    key = ExecutionCache.key(component_spec, container.container, arguments)
    if cache is not None and task.caching_options.enable_cache and key in cache.entries:
        return TaskResult(name, "CACHED", outputs=cache.entries[key], reason="KFP execution cache hit")
    attempts = 1 + max(0, task.retry_policy.max_retry_count)
    for _ in range(attempts):
        result = launch(ctx, name, component_spec, container.container, pipeline.platform.get(label, {}), arguments,
                        kill_when=kill_when.get(name))  # fmt: skip
        if result.state == "SUCCEEDED":
            break
    if cache is not None and result.state == "SUCCEEDED":
        cache.entries[key] = result.outputs
    return result


def _refuse_unsupported(spec: pipeline_spec_pb2.PipelineSpec) -> None:
    for name, task in spec.root.dag.tasks.items():
        if task.trigger_policy.condition:
            raise RehearsalError(f"task {name}: trigger conditions (dsl.If) are not rehearsed")
        if task.WhichOneof("iterator"):
            raise RehearsalError(f"task {name}: loops (dsl.ParallelFor) are not rehearsed")
        component = spec.components[task.component_ref.name]
        if component.WhichOneof("implementation") != "executor_label":
            raise RehearsalError(f"task {name}: nested pipelines are not rehearsed")
        executor = spec.deployment_spec["executors"][component.executor_label]
        if "container" not in executor:
            raise RehearsalError(f"task {name}: only container executors are rehearsed (no importer)")
