"""Reading policies from YAML with line numbers, so every error names ``file:line`` and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from catalyst.errors import PolicyError
from catalyst.policy._compile import CompiledPolicy, compile_policy
from catalyst.policy._model import RESERVED_KEYS, Policy

_PACKAGED = Path(__file__).resolve().parent.parent / "_policies"  # inside a built wheel
_REPO = Path(__file__).resolve().parents[2] / "policies"  # in a checkout / editable install


def policy_dirs() -> list[Path]:
    return [d for d in (_REPO, _PACKAGED) if d.is_dir()]


def resolve(path_or_name: str | Path) -> Path:
    """A file path, or the name of a shipped policy (``default``, ``strict``...)."""
    p = Path(path_or_name)
    if p.exists():
        return p
    if p.suffix == "" and p.parent == Path("."):
        for d in policy_dirs():
            for cand in (d / f"{p.name}.yaml", d / f"{p.name}.yml"):
                if cand.exists():
                    return cand
    shipped = sorted({f.stem for d in policy_dirs() for f in d.glob("*.y*ml")})
    raise PolicyError(f"policy file `{path_or_name}` not found; give a path or a shipped policy name "
                      f"({', '.join(shipped) or 'none found'})")


def _line_map(text: str) -> dict[tuple[Any, ...], int]:
    """Path of keys/indices → 1-based line of that node."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value
                lines[(*path, key)] = k.start_mark.line + 1
                walk(v, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, (*path, i))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return lines


def _where_fn(source: str, lines: dict[tuple[Any, ...], int], raw: Any) -> Any:
    def where(path: tuple[Any, ...]) -> str | None:
        path = _to_yaml_path(tuple(path), raw)
        while path:
            if path in lines:
                return f"{source}:{lines[path]}"
            path = path[:-1]
        return f"{source}:1" if lines else source
    return where


def _to_yaml_path(path: tuple[Any, ...], raw: Any) -> tuple[Any, ...]:
    """Map a path in the expanded model (checks[i].config.x) back to the YAML (checks[i].<name>.x)."""
    if len(path) >= 3 and path[0] == "checks" and isinstance(path[1], int) and isinstance(raw, dict):
        entries = raw.get("checks")
        if isinstance(entries, list) and path[1] < len(entries) and isinstance(entries[path[1]], dict):
            entry = entries[path[1]]
            names = [k for k in entry if k not in RESERVED_KEYS]
            if "check" not in entry and len(names) == 1 and path[2] in ("config", "check"):
                rest = path[3:] if path[2] == "config" else ()
                return ("checks", path[1], names[0], *rest)
            if path[2] == "label":
                return ("checks", path[1], "as")
    return path


def _format_validation(e: ValidationError) -> tuple[str, tuple[Any, ...]]:
    return format_error(dict(e.errors()[0]))


def format_error(err: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """One pydantic error of a policy → (message, path in the policy)."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    field = ".".join(str(p) for p in loc)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(Policy.model_fields)) if len(loc) == 1 else None
        msg = f"unknown key `{loc[-1]}`" + (f"; allowed: {allowed}" if allowed else "")
    return (f"{field}: {msg}" if field else msg), loc


def load_policy(path_or_name: str | Path) -> CompiledPolicy:
    """Read, validate and compile a YAML policy; any mistake raises ``PolicyError`` with file:line."""
    path = resolve(path_or_name)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise PolicyError(f"policy is not UTF-8 text ({e.reason} at byte {e.start})", where=source) from None
    return loads_policy(text, source=source)


def loads_policy(text: str, *, source: str = "<policy>") -> CompiledPolicy:
    try:
        raw = yaml.safe_load(text)
        lines = _line_map(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise PolicyError(f"not valid YAML: {getattr(e, 'problem', e)}", where=where) from None
    if not isinstance(raw, dict):
        raise PolicyError("a policy is a YAML mapping with at least `checks:`", where=source)
    where = _where_fn(source, lines, raw)
    try:
        policy = Policy.model_validate(raw, context={"policy_dir": _folder(source)})
    except ValidationError as e:
        msg, loc = _format_validation(e)
        raise PolicyError(msg, where=where(loc)) from None
    return compile_policy(policy, source=source, where=where)


def _folder(source: str) -> str | None:
    """The policy file's folder (where relative ``plugins:`` paths start), if the source is a file."""
    p = Path(source)
    return str(p.resolve().parent) if p.is_file() else None


def schema() -> dict[str, Any]:
    """JSON schema of a policy file, with each registered check's settings."""
    from catalyst import registry

    base = Policy.model_json_schema()
    entries = []
    for name, cls in registry.all_checks().items():
        cfg = cls.model_json_schema()
        cfg.pop("title", None)
        props: dict[str, Any] = {name: {"anyOf": [cfg, {"type": "null"}], "description": cls.catches or cls.__doc__}}
        for key in RESERVED_KEYS:
            props[key] = {"$ref": f"#/$defs/CheckSpec/properties/{'label' if key == 'as' else key}"}
        entries.append({"type": "object", "properties": props, "required": [name], "additionalProperties": False})
    base["properties"]["checks"] = {"type": "array", "minItems": 1,
                                    "items": {"anyOf": [*entries, {"type": "string", "enum": registry.names()}]}}
    base["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    base["title"] = "Catalyst policy"
    json.dumps(base)  # must be serialisable
    return base
