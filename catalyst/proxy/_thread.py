"""Run the proxy on loopback in a background thread of this process (tests, notebooks, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from catalyst.proxy._app import ProxyConfig, create_app

__all__ = ["ProxyServer", "serve_in_thread"]


class ProxyServer:
    """A running proxy: ``url`` is the ``base_url`` for clients; ``stop()`` shuts down and flushes the log."""

    def __init__(self, cfg: ProxyConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.cfg = cfg
        self.app = create_app(cfg)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]},
                                        name=f"catalyst-proxy:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def proxy(self) -> Any:
        return self.app.state.proxy

    def start(self, timeout: float = 10.0) -> ProxyServer:
        if self._thread.is_alive() or self.server.started:
            return self
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Catalyst proxy did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(upstream: str, **settings: Any) -> ProxyServer:
    """Start a proxy for ``upstream`` on a free loopback port; use as a context manager."""
    return ProxyServer(ProxyConfig(upstream=upstream, **settings)).start()
