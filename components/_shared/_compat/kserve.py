"""KServe internals kfx's model server relies on. Checked against kserve 0.21.0 (also ran on 0.15.2).

Stock ``kserve.ModelServer`` binds 0.0.0.0, starts listening only after every model has loaded (and
refuses to start with no model ready), and its ``stop()`` leaves a single-worker REST server running.
kfx needs a bind host, a server that answers 503 while the model loads, kfx's V2 routes in front of
the stock ones and 400s that name the problem. KServe has no public hooks for these, so:

* :func:`make_rest_server` subclasses ``RESTServer`` and overrides its ``_register_endpoints`` and
  ``_add_exception_handlers`` hooks, and sets the uvicorn ``config.host``;
* :func:`start_single_worker` is a copy of ``ModelServer.start``'s single-worker branch (REST only),
  with the model loads running as one more task next to the server;
* :func:`stop_rest_server` asks the single-worker uvicorn server to exit.

Each raises a ``RuntimeError`` naming what changed when KServe no longer has what it uses;
``tests/serving/test_compat.py`` fails loudly in that case.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import fastapi
import kserve
from kserve.protocol.rest.server import RESTServer

CHECKED = "kserve 0.21.0"
REST_HOOKS = ("_register_endpoints", "_add_exception_handlers", "create_application")
MODEL_SERVER_PARTS = (
    "dataplane",
    "model_repository_extension",
    "servers",
    "setup_event_loop",
    "register_signal_handler",
)

try:
    from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING as FASTAPI_APP
except ImportError:  # the import string stock KServe builds its REST server on (0.15-0.21)
    FASTAPI_APP = "kserve.model_server:app"

Routes = Callable[[fastapi.FastAPI, Any], None]  # (app, dataplane)
Handlers = Callable[[fastapi.FastAPI], None]


def _require(obj: Any, names: tuple[str, ...], what: str) -> None:
    missing = [n for n in names if not hasattr(obj, n)]
    if missing:
        raise RuntimeError(
            f"{what} has no {', '.join(missing)} (kfx's model server was checked against {CHECKED}): "
            "update components/_shared/_compat/kserve.py for this KServe version"
        )


def make_rest_server(model_server: kserve.ModelServer, host: str, routes: Routes, handlers: Handlers) -> RESTServer:
    """A single-worker ``RESTServer`` bound to ``host``: ``routes`` registered before the stock ones (so they
    win), ``handlers`` added after the stock exception handlers (so they replace them). Checked: kserve 0.21.0
    (``RESTServer._register_endpoints`` / ``_add_exception_handlers`` / ``config``); RuntimeError if gone."""
    _require(RESTServer, REST_HOOKS, "kserve RESTServer")

    class _KfxRESTServer(RESTServer):
        def _register_endpoints(self, app: fastapi.FastAPI) -> None:
            routes(app, self.dataplane)
            super()._register_endpoints(app)

        def _add_exception_handlers(self, app: fastapi.FastAPI) -> None:
            super()._add_exception_handlers(app)
            handlers(app)

    options = {
        "access_log_format": model_server.access_log_format,
        "grace_period": model_server.grace_period,
        "workers": 1,
        "event_loop": getattr(model_server, "event_loop", None),
        "timeout_keep_alive": getattr(model_server, "timeout_keep_alive", None),
    }
    accepted = inspect.signature(RESTServer.__init__).parameters  # 0.15 has no event_loop/timeout_keep_alive
    options = {k: v for k, v in options.items() if k in accepted and v is not None}
    server = _KfxRESTServer(
        FASTAPI_APP, model_server.dataplane, model_server.model_repository_extension, model_server.http_port, **options
    )
    _require(server, ("config", "_server"), "kserve RESTServer instance")
    server.config.host = host  # uvicorn reads it when it binds, in serve()
    return server


def start_single_worker(
    model_server: kserve.ModelServer, rest_server: RESTServer, loading: Coroutine[Any, Any, None]
) -> None:
    """``ModelServer.start``'s single-worker branch (REST only), with ``loading`` run next to the server.

    Blocks until the server exits. Models must be registered first (they answer 503 until ready).
    Checked: kserve 0.21.0 (``ModelServer.start``'s ``else`` branch); RuntimeError if its parts are gone.
    """
    _require(model_server, MODEL_SERVER_PARTS, "kserve ModelServer")
    model_server._rest_server = rest_server
    model_server.servers.append(rest_server.start())
    model_server.servers.append(loading)
    model_server.setup_event_loop()
    model_server.register_signal_handler()
    asyncio.run(_serve(model_server.servers))


async def _serve(servers: list) -> None:
    await asyncio.gather(*servers)


def stop_rest_server(rest_server: RESTServer | None) -> None:
    """Ask a single-worker REST server's uvicorn to exit (0.21's ``ModelServer.stop`` stops only the
    multi-process one). Graceful: uvicorn finishes in-flight requests within the grace period.
    Checked: kserve 0.21.0 (``RESTServer._server`` is a ``uvicorn.Server``); RuntimeError if gone."""
    if rest_server is None:
        return
    uvicorn_server = getattr(rest_server, "_server", None)
    if uvicorn_server is None or not hasattr(uvicorn_server, "should_exit"):
        raise RuntimeError(f"kserve RESTServer has no uvicorn server to stop (checked against {CHECKED})")
    uvicorn_server.should_exit = True
