"""A webhook receiver on 127.0.0.1 that keeps the raw bodies it is sent (for tests and benchmarks)."""

from __future__ import annotations

import http.server
import threading


class Receiver:
    """POSTs to ``url`` are answered 200 and their bodies kept in ``bodies``; ``got`` is set on the first one."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.got = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(self.rfile.read(int(self.headers["content-length"])))
                self.send_response(200)
                self.end_headers()
                outer.got.set()

            def log_message(self, *a: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
