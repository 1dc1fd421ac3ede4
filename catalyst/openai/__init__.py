"""A drop-in validated OpenAI client: ``catalyst.openai.wrap_client(openai.OpenAI(...), policy=...)``.

>>> client = wrap_client(openai.OpenAI(), policy="default", store="log.duckdb")
>>> r = client.chat.completions.create(model="gpt-4o-mini", messages=[...], catalyst_context=[...])
>>> r.choices[0].message.content, r.catalyst_verdict.decision

See :func:`wrap_client` for blocking, retries and streams.
"""

from catalyst.openai._client import ValidatedClient, wrap_client
from catalyst.openai._stream import AsyncValidatedStream, ValidatedStream

__all__ = ["AsyncValidatedStream", "ValidatedClient", "ValidatedStream", "wrap_client"]
