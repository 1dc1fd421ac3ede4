"""Test fakes shipped with Catalyst: a scripted OpenAI-compatible server the real ``openai`` client talks to.

>>> from catalyst.testing import Reply, ScriptedServer
>>> with ScriptedServer({"capital of France": "Paris.", "*": "I don't know."}) as srv:
...     client = srv.client()  # openai.OpenAI(base_url=srv.url, api_key="test", max_retries=0)
...     client.chat.completions.create(model="m", messages=[{"role": "user", "content": "capital of France?"}])

Faults are replies too: ``Reply.rate_limited(retry_after=1)``, ``Reply.server_error()``,
``Reply.slow(2.0)``, ``Reply.malformed()``, ``Reply.dropped()``, ``Reply.dropped_mid_body()``,
``Reply.dropped_mid_stream()``. Pytest fixtures (``scripted_server``, ``openai_client``,
``async_openai_client``) come from :mod:`catalyst.testing.pytest_plugin`, loaded automatically
through the ``pytest11`` entry point.
"""

from catalyst.testing._script import Reply, ScriptedRequest, ScriptError, default_logprob, tokenize
from catalyst.testing._server import ScriptedServer

__all__ = ["Reply", "ScriptError", "ScriptedRequest", "ScriptedServer", "default_logprob", "tokenize"]
