"""Wrapping real model calls: ``catalyst.wrap`` and the plumbing the other wrappers share.

- :func:`wrap` / :class:`Validated`: any sync or async function returning text or a chat completion.
- :class:`Guard`: a validator's pipeline, one call at a time with a per-call re-ask (used by the drop-in
  OpenAI client, the LangGraph node and the proxy). Its log is the validator's sink
  (:class:`catalyst.sink.LogSink`: journaled at once, in DuckDB within ``flush_interval`` seconds).
"""

from catalyst.errors import RegenerateFailed
from catalyst.wrapping._guard import Guard
from catalyst.wrapping._wrap import OnBlock, Validated, output_of, wrap

__all__ = ["Guard", "OnBlock", "RegenerateFailed", "Validated", "output_of", "wrap"]
