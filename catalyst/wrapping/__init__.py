"""Wrapping real model calls: ``catalyst.wrap`` and the plumbing the other wrappers share.

- :func:`wrap` / :class:`Validated`: any sync or async function returning text or a chat completion.
- :class:`Guard`: a validator plus a periodically flushed log, one answer at a time (used by the
  drop-in OpenAI client, the LangGraph node and the proxy).
- :class:`LogWriter`: the flush schedule (a crash loses at most ``flush_interval`` seconds of verdicts).
"""

from catalyst.wrapping._guard import Guard, RegenerateFailed
from catalyst.wrapping._logwriter import LogWriter
from catalyst.wrapping._wrap import OnBlock, Validated, output_of, wrap

__all__ = ["Guard", "LogWriter", "OnBlock", "RegenerateFailed", "Validated", "output_of", "wrap"]
