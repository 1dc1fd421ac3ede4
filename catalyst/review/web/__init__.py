"""The web reviewer: ``catalyst review --web`` serves the review queue over HTTP.

``create_app(db, ...)`` builds the FastAPI app (for tests, or to mount elsewhere); ``serve(db, host, port)``
runs it with uvicorn. Accounts: ``catalyst review token add NAME --role reviewer|admin``. See ``app.py``
for the security model.
"""

from catalyst.review.web.app import create_app, serve

__all__ = ["create_app", "serve"]
