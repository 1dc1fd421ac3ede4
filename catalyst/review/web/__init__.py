"""The web reviewer: ``catalyst review --web`` serves the review queue over HTTP.

``create_app(db, ...)`` builds the FastAPI app (for tests, or to mount elsewhere); ``serve(db, host, port)``
runs it with uvicorn. Accounts: ``catalyst review token add NAME --role reviewer|admin``. See ``app.py``
for the security model.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    # FastAPI is imported on first use, not by the CLI (`catalyst review token ...`, every other command)
    if name in __all__:
        from catalyst.review.web import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
