"""Process entry points for the shared-log tests and benchmarks (importable under ``spawn``)."""

from __future__ import annotations

import threading
from typing import Any


def serve_and_report(db: str, conn: Any) -> None:
    """Own ``db`` and serve it; send ``("ready", port)`` once serving and ``"write"`` at the first batch a
    client writes through it; stop when ``"stop"`` arrives (or be killed by the test)."""
    from catalyst.cli.log import serve_log

    stop = threading.Event()
    told = threading.Event()

    def on_write() -> None:
        if not told.is_set():
            told.set()
            conn.send("write")

    def wait_stop() -> None:
        while conn.recv() != "stop":
            pass
        stop.set()

    threading.Thread(target=wait_stop, daemon=True).start()
    serve_log(db, ready=lambda h, p: conn.send(("ready", p)), stop=stop, on_write=on_write)
    conn.send("stopped")


def hold_without_serving(db: str, conn: Any) -> None:
    """Hold ``db`` read-write the old way (no owner API) until told to stop: a process that does not answer."""
    import duckdb

    con = duckdb.connect(db)
    conn.send("holding")
    conn.recv()
    con.close()
