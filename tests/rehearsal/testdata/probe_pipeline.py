"""A tiny pipeline that probes the rehearsal machinery itself (compiled at test time, not a kfx pipeline).

produce -> consume (artifact through the S3 test double); probe (what a pod sees); broken (fails after writing
its output) -> after_broken (must be SKIPPED, and broken's output never published).
"""

from kfp import compiler, dsl, kubernetes

IMAGE = "ghcr.io/kfx-ml/kfx-runtime:probe"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def produce(text: str, out: dsl.Output[dsl.Dataset]) -> None:
    import os

    os.makedirs(out.path, exist_ok=True)
    with open(os.path.join(out.path, "data.txt"), "w") as f:
        f.write(text)
    out.metadata["chars"] = len(text)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def consume(inp: dsl.Input[dsl.Dataset]) -> str:
    import os

    with open(os.path.join(inp.path, "data.txt")) as f:
        return f"{f.read()}|{inp.uri}|{inp.metadata['chars']}"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def probe() -> str:
    import importlib.util
    import json
    import os
    import sys

    import components

    # bytecode compiled at install (components/install.sh): the image forbids writing it at run time
    spec = importlib.util.find_spec("tensorflow")
    compiled = os.path.exists(importlib.util.cache_from_source(spec.origin))
    return json.dumps({"env": dict(os.environ), "cwd": os.getcwd(), "listdir": os.listdir("."),
                       "sys_path": sys.path, "kfx": components.__file__, "tf_bytecode": compiled})  # fmt: skip


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def broken(out: dsl.Output[dsl.Dataset]) -> None:
    with open(out.path, "w") as f:
        f.write("half-written")
    raise RuntimeError("broken on purpose")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def after_broken(inp: dsl.Input[dsl.Dataset]) -> str:
    return inp.uri


@dsl.pipeline(name="rehearsal-probe")
def probe_pipeline(text: str = "hello") -> None:
    produced = produce(text=text)
    consume(inp=produced.outputs["out"])
    probed = probe().after(produced)
    probed.set_env_variable("FROM_IR", "ir-value")
    kubernetes.use_secret_as_env(probed, secret_name="mlpipeline-minio-artifact",
                                 secret_key_to_env={"accesskey": "FROM_SECRET"})  # fmt: skip
    kubernetes.use_field_path_as_env(probed, env_name="FROM_FIELD", field_path="metadata.namespace")
    failed = broken()
    after_broken(inp=failed.outputs["out"])


def compile_to(path: str) -> str:
    compiler.Compiler().compile(probe_pipeline, path)
    return path
