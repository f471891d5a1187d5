"""A file server on 127.0.0.1 for the download tests: real HTTP (the standard library's server), with Range
requests answered as 206, and faults a test can ask for: a connection dropped after some bytes, a refusal."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Server:
    """Serves ``files`` (name -> bytes) at ``url(name)``; ``drop_after[name] = n`` cuts the next response for
    ``name`` after n bytes (once); ``ranges`` is False to ignore Range headers; ``requests`` logs what came."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.drop_after: dict[str, int] = {}
        self.ranges = True
        self.requests: list[tuple[str, str | None]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/{name}"

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(server: Server):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            asked = self.headers.get("Range")
            server.requests.append((name, asked))
            if name not in server.files:
                self.send_error(404)
                return
            body, start = server.files[name], 0
            if asked and server.ranges:
                start = int(asked.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            cut = server.drop_after.pop(name, None)
            with contextlib.suppress(OSError):
                self.wfile.write(body[start:] if cut is None else body[start: start + cut])
            if cut is not None:
                self.close_connection = True

    return Handler


def serve_folder(folder: Path) -> Server:
    """A server of every file in ``folder``."""
    return Server({path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()})
