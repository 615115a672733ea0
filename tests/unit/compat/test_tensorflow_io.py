"""tensorflow-io's S3 exit abort and kfx's guard: each exit status is kept, and the abort is still real without it."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

WRITE = """
import components
from components._shared.artifacts import register_filesystem
import tensorflow as tf
register_filesystem("s3://bkt/x")
with tf.io.gfile.GFile("s3://bkt/x.txt", "w") as f:
    f.write("hi")
assert tf.io.gfile.exists("s3://bkt/x.txt")
print("wrote", flush=True)
"""


@pytest.fixture(scope="module")
def s3_env():
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)  # the S3 test double
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    creds = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket="bkt")  # fmt: skip
    yield dict(os.environ, S3_ENDPOINT=endpoint, S3_USE_HTTPS="0", S3_VERIFY_SSL="0", **creds)
    server.stop()


def _run(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("tail", "status"),
    [("", 0), ("raise RuntimeError('step failed')", 1), ("import sys; sys.exit(3)", 3)],
    ids=["success", "exception", "sys.exit"],
)
def test_guard_keeps_the_exit_status(s3_env, tail, status):
    r = _run(WRITE + tail, s3_env)
    assert r.returncode == status, r.stderr[-2000:]
    assert "wrote" in r.stdout and "pure virtual method called" not in r.stderr


def test_without_the_guard_tensorflow_io_still_aborts(s3_env):
    """When this fails, the locked tensorflow-io no longer aborts at exit: remove the guard in _compat."""
    r = _run(WRITE, dict(s3_env, KFX_S3_EXIT_GUARD="0"))
    assert "wrote" in r.stdout
    assert r.returncode != 0 and "pure virtual method called" in r.stderr
