"""The play server: a Starlette app served by uvicorn, bound to 127.0.0.1 unless told otherwise.

Why Starlette and uvicorn: the page is a drawing canvas and live pictures of our own, which a component
kit like Gradio would constrain and would pull in far more than it gives (and its front end from a CDN
unless bundled); Starlette is the small, well-kept ASGI toolkit under FastAPI, with a static-file server
that refuses paths outside its folder, and uvicorn is the ASGI server FastAPI's own docs run it with.

Routes: ``/`` the page, ``/static/...`` its scripts and styles, ``GET /api/runs`` the runs and limits,
``POST /api/look?run=NAME&encoding=...`` a picture's bytes in, what the network did out (``look.page_view``).
Every refusal is JSON ``{"error": message, "reason": key or null, "values": {...}}`` with a 4xx status (the page
words the reasons it knows in its own language), and the server goes on serving.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from spikevision import data
from spikevision.catalog import ENCODINGS
from spikevision.errors import InvalidValue, NotFound, SpikevisionError
from spikevision.play import look
from spikevision.play.runs import RunLibrary

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 10_000_000   # an upload: a phone photo of a digit fits
MAX_PIXELS = 25_000_000       # a decoded picture (a 12-megapixel photo fits)
DRAIN_FACTOR = 4              # a body up to this many times the limit is read to its end before the refusal
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# The page loads nothing from elsewhere: the browser enforces it too.
HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                      "frame-ancestors 'none'",
           "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


class BodyTooLarge(SpikevisionError):
    """A request body over the server's limit."""


def create_app(library: RunLibrary, *, max_body: int = MAX_BODY_BYTES, max_pixels: int = MAX_PIXELS) -> Starlette:
    """The play app over ``library``'s runs; refuses bodies over ``max_body`` bytes, pictures over ``max_pixels``."""

    async def index(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=HEADERS)

    async def runs(request: Request) -> JSONResponse:
        return JSONResponse({"runs": [_describe(library, name) for name in library.names],
                             "limits": {"max_body_bytes": max_body, "max_pixels": max_pixels,
                                        "max_steps": look.MAX_STEPS, "encodings": list(ENCODINGS),
                                        "defaults": look.coding_defaults()}},
                            headers=HEADERS)

    async def look_at(request: Request) -> JSONResponse:
        started = time.perf_counter()
        query = dict(request.query_params)
        config, model, lock = await run_in_threadpool(library.get, query.get("run", library.names[0]))
        cfg = look.coding_from_query(config.train, query)
        picture = await _read_body(request, max_body)

        def work() -> dict:
            with lock:  # one picture at a time per model
                return look.look(model, cfg, picture, max_pixels=max_pixels)

        view = await run_in_threadpool(work)
        view["classes"] = list(data.classes(config.train.dataset))
        view["server_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(view, headers=HEADERS)

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        status = 413 if isinstance(exc, BodyTooLarge) else 404 if isinstance(exc, NotFound) else 400
        return JSONResponse({"error": str(exc), "reason": exc.reason, "values": exc.values}, status_code=status,
                            headers=HEADERS)

    return Starlette(
        routes=[Route("/", index), Route("/api/runs", runs), Route("/api/look", look_at, methods=["POST"]),
                Mount("/static", StaticFiles(directory=STATIC), name="static")],
        exception_handlers={SpikevisionError: refused},
    )


def _describe(library: RunLibrary, name: str) -> dict:
    """What the page shows of a run before it is loaded: from its config and summary."""
    from spikevision.runs import rundir

    config = rundir.load_config(library.entries[name].path)
    summary = library.summary(name)
    return {"name": name, "preset": config.preset, "kind": config.model.kind,
            "coding": {"encoding": config.train.encoding, "options": config.train.encoding_options,
                       "steps": config.train.num_steps},
            "test_accuracy": summary.get("test_accuracy"), "drawn_accuracy": summary.get("drawn_accuracy")}


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused when it passes ``limit`` bytes; nothing over the limit is kept.

    The rest of a body a little over the limit is read and dropped before the refusal is sent: a server that
    answers mid-upload resets the connection, and the client would see that instead of the message.
    """
    declared = request.headers.get("content-length")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_FACTOR * limit:
            break
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        size_told = int(declared) if declared is not None and declared.isdigit() else None
        told = "too big" if size_told is None else f"{size_told:,} bytes"
        raise BodyTooLarge(f"the upload is {told}; the limit is {limit:,} bytes", reason="body_too_large",
                           size=size_told, limit=limit)
    return b"".join(chunks)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one); OSError names what went wrong."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        info = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise InvalidValue(f"--host {host!r} is not an address of this machine: {exc.strerror}") from None
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(info[4])
    except OSError as exc:
        sock.close()
        raise InvalidValue(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port") from None
    sock.listen(64)
    return sock


def address(sock: socket.socket, host: str) -> str:
    """The page's address for a bound socket."""
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


SHUTDOWN_SECONDS = 1.0


def serve(app: Starlette, sock: socket.socket, *, on_ready: Callable[[], None] = lambda: None) -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C (or SIGTERM); uvicorn finishes open requests (for at most
    ``SHUTDOWN_SECONDS``), then stops.

    On Ctrl-C uvicorn shuts down, then raises ``KeyboardInterrupt`` again for its caller.
    """
    import uvicorn

    # Ctrl-C waits at most a second for open requests: a browser's upload cut half way (or any client that never
    # sends the rest) would otherwise hold the server for ever (seen: still running 20 s after Ctrl-C).
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           timeout_graceful_shutdown=SHUTDOWN_SECONDS))
    on_ready()
    server.run(sockets=[sock])
