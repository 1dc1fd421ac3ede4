"""Derived policy files: a policy's YAML with new settings (a calibrator, tuned thresholds) and a provenance note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_policy"]


def write_policy(policy: Any, updates: dict[str, Any], out: str | Path, note: str) -> Path:
    """A new policy file: the source YAML with ``updates`` applied at the top level, plus a provenance note."""
    import yaml

    if not policy.source or not Path(policy.source).is_file():
        raw = policy.policy.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    else:
        raw = yaml.safe_load(Path(policy.source).read_text(encoding="utf-8"))
    out = Path(out)
    raw.update(updates)
    text = f"# {note}\n# derived from {policy.source or policy.name} ({policy.version})\n"
    text += yaml.safe_dump(raw, sort_keys=False, width=110)
    out.write_text(text, encoding="utf-8")
    from catalyst.policy import load_policy

    return Path(load_policy(out).source or out)  # fail now, not at deploy, if the result is invalid
