"""Layers point one way: records/errors → checks → policy → engine → pipeline → store/review → wrappers/tools.

Every ``import`` in ``catalyst/`` and ``agents/`` (module level *and* inside functions) is parsed; an import
from a lower layer into a higher one fails, and so does any cycle among module-level imports. A function-level
import may only point downward; keep those for measured start-up reasons, with a comment saying so.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (module prefix, layer). The longest matching prefix wins.
LAYERS: list[tuple[str, int]] = [
    # 0 — the record contract, errors, and leaf utilities
    ("catalyst.errors", 0), ("catalyst.records", 0), ("catalyst._gc", 0), ("catalyst._sync", 0),
    ("catalyst.jsonl", 0), ("catalyst.summary", 0), ("catalyst.testing", 0), ("catalyst.store.migrations", 0),
    # 1 — checks, their registry, and the services checks use
    ("catalyst.checks", 1), ("catalyst.registry", 1), ("catalyst.llm", 1), ("catalyst.embeddings", 1),
    ("catalyst.redaction", 1),
    # 2 — policies (and the calibration they apply)
    ("catalyst.policy", 2), ("catalyst.calibration", 2), ("catalyst.evaluation.errors", 2),
    ("catalyst.evaluation.metrics", 2), ("catalyst.monitor.audit", 2), ("catalyst.monitor.rules", 2),
    # 3 — the engine: run checks, aggregate, decide
    ("catalyst.engine", 3),
    # 4 — the pipeline: the flow, its nodes and graph
    ("catalyst.flow", 4), ("catalyst_agents", 4), ("catalyst.graph", 4), ("catalyst.pipeline", 4),
    # 5 — where outcomes go: the log, the review queue, notifications, the sink
    ("catalyst.store", 5), ("catalyst.review", 5), ("catalyst.sink", 5),
    # 6 — entry points and tools
    ("catalyst.validator", 6), ("catalyst.wrapping", 6), ("catalyst.langgraph", 6), ("catalyst.openai", 6),
    ("catalyst.proxy", 6), ("catalyst.parallel", 6), ("catalyst.cli", 6), ("catalyst.evaluation", 6),
    ("catalyst.review.web", 6), ("catalyst.review.tui", 6), ("catalyst.review._workers", 6), ("catalyst.monitor", 6),
    ("catalyst.__main__", 6), ("catalyst.ray", 6), ("catalyst.store._procs", 6),
    ("catalyst", 7),  # the package facade re-exports everything (lazily)
]


#: upward imports known and owned elsewhere, each with who fixes it; the list may only shrink
KNOWN_UPWARD: dict[tuple[str, str], str] = {
    ("catalyst.store._procs", "catalyst.cli.log"): "scale: the store starts the CLI's log server (move serve_log down)",
}


def layer(module: str) -> int:
    best = max((p for p, _ in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise AssertionError(f"module `{module}` has no layer: add it to LAYERS in {__file__}")
    return dict(LAYERS)[best]


def _modules() -> dict[str, Path]:
    out = {}
    for base in (ROOT / "catalyst", ROOT / "agents" / "catalyst_agents"):
        for path in base.rglob("*.py"):
            rel = path.relative_to(base.parent).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _target(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:  # relative: resolve against this module's package
        pkg = module.split(".")
        if MODULES[module].name != "__init__.py":
            pkg = pkg[:-1]
        pkg = pkg[: len(pkg) - node.level + 1]
        base = ".".join(pkg + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    # `from catalyst import engine` imports the submodule catalyst.engine, not the facade
    subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
    return subs or [base]


def imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for each import of a Catalyst module in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # for type checkers only: never executed
            if isinstance(child, ast.Import | ast.ImportFrom):
                for t in _target(module, child):
                    if t.split(".")[0] in ("catalyst", "catalyst_agents"):
                        found.append((t, child.lineno, top))
            visit(child, top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(tree, True)
    return found


def _owner(name: str) -> str:
    """The module an imported name lives in (``catalyst.store._store.to_arrow`` → ``catalyst.store._store``)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def test_every_module_has_a_layer():
    for module in MODULES:
        layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_upward_import(module):
    mine = layer(module)
    bad = [f"line {line}: {t} (layer {layer(_owner(t))})" for t, line, _top in imports(module)
           if layer(_owner(t)) > mine and (module, _owner(t)) not in KNOWN_UPWARD]
    assert not bad, f"{module} (layer {mine}) imports upward: " + "; ".join(bad)


def test_no_cycle_among_module_level_imports():
    graph = {m: {_owner(t) for t, _line, top in imports(m) if top and _owner(t) != m} for m in MODULES}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if n not in graph:
                continue
            if state.get(n) == 1:
                cycle = [*stack[stack.index(n):], n]
                raise AssertionError("import cycle: " + " → ".join(cycle))
            if n not in state:
                walk(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m)
