"""Grounding: are the answer's claims supported by the given context? See :mod:`.check`."""

from catalyst_checks.grounding.check import Grounding

__all__ = ["Grounding"]
