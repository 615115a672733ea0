"""ClusterNetwork — cluster DNS and service routing for the rehearsal's pods, NOT a cluster network.

A pod names services by their in-cluster host names (``minio-service.kubeflow.svc.cluster.local:9000``,
``<isvc>-predictor.<ns>.svc.cluster.local``). Here:
- one hosts file, bind-mounted as every pod's ``/etc/hosts`` and rewritten IN PLACE (a bind mount pins the inode)
  whenever the set of names changes, so a name the Kubernetes API test double hands out while a pod runs
  resolves in that pod (glibc reads /etc/hosts on every lookup);
- static names (the S3 test double, the API server) map to the loopback address their double listens on;
- InferenceService names map to a small HTTP proxy on a private loopback address, port 80 (the port a
  cluster-local ``http://`` URL implies), that forwards each request by its ``Host`` to the local model server
  the double says stands in for that name (the double's address-override file). A name with no server answers
  503, like a Service without ready endpoints.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.rehearsal.s3 import _loopback_address

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"}


class ClusterNetwork:
    def __init__(self, hosts_file: str, static: dict[str, str], routes: Callable[[], dict[str, str]]) -> None:
        self.hosts_file, self.static, self.routes = hosts_file, dict(static), routes
        self.ip = _loopback_address(80)
        self._written: dict[str, str] | None = None
        self._stop = threading.Event()
        self._http = ThreadingHTTPServer((self.ip, 80), self._handler())
        self._http.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True, name="rehearsal-ingress"),
            threading.Thread(target=self._refresh_loop, daemon=True, name="rehearsal-dns"),
        ]

    def start(self) -> ClusterNetwork:
        self.refresh()
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._http.shutdown()
        self._http.server_close()

    def names(self) -> dict[str, str]:
        return {**{host: self.ip for host in self.routes()}, **self.static}

    def refresh(self) -> None:
        names = self.names()
        if names == self._written:
            return
        text = "127.0.0.1 localhost\n::1 localhost\n" + "".join(f"{ip} {h}\n" for h, ip in sorted(names.items()))
        mode = "r+" if os.path.exists(self.hosts_file) else "w"
        with open(self.hosts_file, mode) as f:  # in place: pods have this inode bind-mounted
            f.seek(0)
            f.write(text)
            f.truncate()
        self._written = names

    def _refresh_loop(self) -> None:
        while not self._stop.wait(0.1):
            self.refresh()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        network = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _forward(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0]
                target = network.routes().get(host)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if target is None:
                    msg = json.dumps({"error": f"no endpoints for {host}"}).encode()
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                conn = http.client.HTTPConnection(target, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except OSError as e:
                    data, status = json.dumps({"error": f"upstream {target}: {e}"}).encode(), 502
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                finally:
                    conn.close()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP_HEADERS and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        return Handler
