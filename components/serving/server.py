"""``KfxModelServer``: KServe's ``ModelServer`` with what kfx needs on top, and kfx's V2 REST routes.

On top of stock KServe: a configurable bind host (stock binds 0.0.0.0), no gRPC port, a server that
listens while the model loads with readiness 503 until the model has loaded and passed its warm-up
(stock starts listening only after load and answers ready regardless), and V2 REST conformance (real
metadata, versioned paths, 400 rather than 422/500 for malformed bodies, ``Allow`` kept on 405).

Every override of KServe internals goes through ``components._shared._compat.kserve``.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from typing import Any

import kserve
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse, Response
from kserve.errors import InvalidInput, ModelNotFound, ModelNotReady, ServerNotReady
from starlette.exceptions import HTTPException as StarletteHTTPException

from components._shared._compat import kserve as kserve_compat
from components.serving.codec import parse_v2_body
from components.serving.model import KfxModel

log = logging.getLogger("kfx.serving")


class KfxModelServer(kserve.ModelServer):
    """``kserve.ModelServer`` bound to a chosen host, REST only, serving while the model loads (503 until ready)."""

    def __init__(self, host: str = "127.0.0.1", http_port: int = 8080, workers: int = 1, **kwargs: Any):
        kwargs.setdefault("enable_grpc", False)
        kwargs.setdefault("enable_latency_logging", False)
        if workers != 1:  # KServe's multi-process server kills workers that take > 5 s to start (TensorFlow does)
            raise ValueError("KfxModelServer runs one worker process; scale with replicas")
        super().__init__(http_port=http_port, workers=workers, **kwargs)
        self.host = host
        self._kfx_rest_server = None

    def start(self, models: list[kserve.Model]) -> None:  # noqa: D102 - same contract as kserve.ModelServer.start
        for m in models:
            self.register_model(m)  # registered before load: health and predict answer 503 until ready
            m.enable_latency_logging = self.enable_latency_logging
        self._kfx_rest_server = kserve_compat.make_rest_server(self, self.host, register_v2_routes, add_error_handlers)
        try:
            kserve_compat.start_single_worker(self, self._kfx_rest_server, _load_models(models))
        finally:  # a clean shutdown writes what is still buffered (e.g. the prediction log)
            for m in models:
                if callable(getattr(m, "close", None)):
                    m.close()

    def stop(self, sig: int) -> None:
        super().stop(sig)
        kserve_compat.stop_rest_server(self._kfx_rest_server)


async def _load_models(models: list[kserve.Model]) -> None:
    loop = asyncio.get_running_loop()
    for m in models:
        if not m.ready:
            await loop.run_in_executor(None, m.load)


# ====================================================================== errors
def _error(status: int, message: str) -> ORJSONResponse:
    return ORJSONResponse(status_code=status, content={"error": message})


async def _validation_error(_: Request, exc: RequestValidationError) -> ORJSONResponse:
    problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
    return _error(400, f"malformed request: {problems}")


async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
    response = _error(exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})  # e.g. Allow on 405 (RFC 9110)
    return response


async def _invalid_input(_: Request, exc: InvalidInput) -> ORJSONResponse:
    message = str(exc)
    if message.startswith("Unrecognized request format"):  # KServe's words for a JSON syntax error
        message = "malformed JSON body: " + message.split(":", 1)[-1].strip()
    log.warning("400 Bad Request: %s", message)  # one line, not KServe's traceback per bad request
    return _error(400, message)


def add_error_handlers(app: FastAPI) -> None:
    """400 with ``{"error": message}`` for bad input (stock: 422 for pydantic errors, tracebacks logged)."""
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


# ====================================================================== V2 routes
class _V2:
    """V2 endpoints stock KServe gets wrong (empty metadata, 501 on versioned paths, 422s, ready while loading)."""

    def __init__(self, dataplane: Any):
        self.dataplane = dataplane

    def model(self, name: str, version: str | None) -> Any:
        m = self.dataplane.get_model_from_registry(name)  # raises ModelNotFound -> 404
        if version is not None and version != getattr(m, "model_version", None):
            raise ModelNotFound(f"{name} version {version}")
        return m

    async def server_live(self) -> dict:
        return {"live": True}

    async def server_ready(self) -> dict:
        waiting = [n for n, m in self.dataplane.model_registry.get_models().items() if not m.ready]
        if waiting:
            raise ServerNotReady(f"model(s) {', '.join(waiting)} not loaded yet")
        return {"ready": True}

    async def server_metadata(self) -> dict:
        return {"name": "kfx-kserve", "version": importlib.metadata.version("kserve"), "extensions": []}

    async def model_metadata(self, model_name: str, model_version: str | None = None) -> dict:
        m = self.model(model_name, model_version)
        if not m.ready:  # metadata needs the loaded signatures
            raise ModelNotReady(model_name)
        return m.metadata() if isinstance(m, KfxModel) else await self.dataplane.model_metadata(model_name)

    async def model_ready(self, model_name: str, model_version: str | None = None) -> dict:
        m = self.model(model_name, model_version)
        if not await self.dataplane.model_ready(model_name):
            raise ModelNotReady(model_name)
        return {"name": model_name, "ready": m.ready}

    async def infer(self, request: Request, model_name: str, model_version: str | None = None) -> Response:
        self.model(model_name, model_version)
        if not await self.dataplane.model_ready(model_name, True):
            raise ModelNotReady(model_name)
        infer_request = parse_v2_body(await request.body(), model_name)
        headers = dict(request.headers.items())
        response, _ = await self.dataplane.infer(model_name=model_name, request=infer_request, headers=headers)
        response, _ = self.dataplane.encode(
            model_name=model_name, response=response, headers=headers, req_attributes={}
        )
        return ORJSONResponse(content=response)


def register_v2_routes(app: FastAPI, dataplane: Any) -> None:
    """kfx's V2 routes; registered before the stock routes so they win."""
    v2 = _V2(dataplane)
    routes = [
        ("/v2/health/live", v2.server_live, ["GET"]),
        ("/v2/health/ready", v2.server_ready, ["GET"]),
        ("/v2", v2.server_metadata, ["GET"]),
        ("/v2/", v2.server_metadata, ["GET"]),
        ("/v2/models/{model_name}", v2.model_metadata, ["GET"]),
        ("/v2/models/{model_name}/versions/{model_version}", v2.model_metadata, ["GET"]),
        ("/v2/models/{model_name}/ready", v2.model_ready, ["GET"]),
        ("/v2/models/{model_name}/versions/{model_version}/ready", v2.model_ready, ["GET"]),
        ("/v2/models/{model_name}/infer", v2.infer, ["POST"]),
        ("/v2/models/{model_name}/versions/{model_version}/infer", v2.infer, ["POST"]),
    ]
    for path, endpoint, methods in routes:
        app.add_api_route(path, endpoint, methods=methods, response_model=None, tags=["V2 (kfx)"])
