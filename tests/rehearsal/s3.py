"""S3TestDouble — moto's S3-compatible server standing in for a cluster's object store, NOT S3 or MinIO.

What it is: ``moto.server.ThreadedMotoServer`` bound on a private loopback address (a random ``127.x.y.z``, so
the port can be the in-cluster one, 9000, without colliding with anything) and reached by the steps under the
in-cluster host name the compiled pipeline names (``minio-service.kubeflow.svc.cluster.local``), which the
rehearsal's pod ``/etc/hosts`` maps to that address. The steps reach it through tensorflow-io's ``s3://``
filesystem, the rehearsal's launcher (artifact download/upload) and the storage initializer through boto3.

What it is not: moto accepts any credentials (a wrong key is not caught here), keeps objects in memory (they
vanish with the double), and does not imitate MinIO's quirks.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from typing import Any

DEFAULT_HOST_NAME = "minio-service.kubeflow.svc.cluster.local"
DEFAULT_PORT = 9000


def _loopback_address(port: int) -> str:
    """A random 127.x.y.z on which ``port`` is free (the whole 127/8 is loopback on Linux)."""
    rng = random.Random()
    for _ in range(50):
        ip = f"127.{rng.randint(100, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((ip, port))
            except OSError:
                continue
            return ip
    raise RuntimeError(f"no free 127.x.y.z address for port {port}")


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


class S3TestDouble:
    """moto's S3 server on ``<ip>:<port>``, known to the pods as ``http://<host_name>:<port>``."""

    def __init__(
        self,
        host_name: str = DEFAULT_HOST_NAME,
        port: int = DEFAULT_PORT,
        access_key: str = "rehearsal-access-key",
        secret_key: str = "rehearsal-secret-key",
        region: str = "us-east-1",
    ) -> None:
        self.host_name, self.port = host_name, port
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.ip = _loopback_address(port)
        self._server: Any = None

    @property
    def endpoint(self) -> str:
        """The endpoint as a pod names it (host name, not address)."""
        return f"http://{self.host_name}:{self.port}"

    @property
    def local_endpoint(self) -> str:
        """The endpoint as this process reaches it (no pod /etc/hosts here)."""
        return f"http://{self.ip}:{self.port}"

    def start(self) -> S3TestDouble:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=self.ip, port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> S3TestDouble:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- client side (the launcher's, the storage initializer's and the tests' view)
    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.local_endpoint, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
        )  # fmt: skip

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(Bucket=bucket)

    def keys(self, uri: str) -> list[str]:
        """Every key under ``uri`` (a prefix), relative to it, sorted."""
        bucket, prefix = split_uri(uri.rstrip("/") + "/")
        out = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out += [o["Key"][len(prefix) :] for o in page.get("Contents", [])]
        return sorted(out)

    def exists(self, uri: str) -> bool:
        """An object at ``uri`` or any object under ``uri/``."""
        return self._is_object(uri) or bool(self.keys(uri))

    def _is_object(self, uri: str) -> bool:
        from botocore.exceptions import ClientError

        bucket, key = split_uri(uri)
        try:
            self.client().head_object(Bucket=bucket, Key=key)
        except ClientError:
            return False
        return True

    def read(self, uri: str) -> bytes:
        bucket, key = split_uri(uri)
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def write(self, uri: str, data: bytes) -> None:
        bucket, key = split_uri(uri)
        self.client().put_object(Bucket=bucket, Key=key, Body=data)

    def upload(self, local: str, uri: str) -> int:
        """Upload a file, or every file under a directory, to ``uri``; returns the number of objects."""
        bucket, key = split_uri(uri)
        client = self.client()
        if os.path.isfile(local):
            client.upload_file(local, bucket, key)
            return 1
        count = 0
        for dirpath, _dirs, files in os.walk(local):
            for name in files:
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, local).replace(os.sep, "/")
                client.upload_file(path, bucket, f"{key.rstrip('/')}/{rel}" if key else rel)
                count += 1
        return count

    def download(self, uri: str, local: str) -> int:
        """Download the object at ``uri`` to the file ``local``, or the objects under it into the directory
        ``local``; returns the number of objects (0 when there is nothing at ``uri``)."""
        bucket, key = split_uri(uri)
        client = self.client()
        rels = self.keys(uri)
        if not rels and self._is_object(uri):
            os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
            client.download_file(bucket, key, local)
            return 1
        for rel in rels:
            path = os.path.join(local, *rel.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            client.download_file(bucket, f"{key.rstrip('/')}/{rel}", path)
        return len(rels)
