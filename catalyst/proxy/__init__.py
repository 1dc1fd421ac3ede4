"""The validating proxy behind ``catalyst serve --upstream URL`` (see :mod:`catalyst.proxy._app`).

:func:`serve_in_thread` runs it on loopback inside the current process (tests, notebooks, benchmarks).
"""

from catalyst.proxy._app import ProxyConfig, create_app
from catalyst.proxy._thread import ProxyServer, serve_in_thread

__all__ = ["ProxyConfig", "ProxyServer", "create_app", "serve_in_thread"]
