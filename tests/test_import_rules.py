"""The layers' import rules (docs/architecture.md, "Layers and import rules"), checked on the
source: every `import`, at module level or inside a function, counts."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "tui"

# layer prefix -> prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "tui.core": ("tui.engine", "tui.backends", "tui.models", "tui.screens", "tui.widgets",
                 "tui.commands", "tui.app", "tui.cli", "tui.plain", "tui.model_host",
                 "tui.keys", "textual", "rich"),
    "tui.engine": ("tui.backends", "tui.models", "tui.screens", "tui.widgets", "tui.commands",
                   "tui.app", "tui.cli", "tui.plain", "tui.model_host", "tui.keys",
                   "textual", "rich"),
    "tui.backends": ("tui.engine", "tui.screens", "tui.widgets", "tui.commands", "tui.app",
                     "tui.cli", "tui.plain", "tui.model_host", "textual"),
    "tui.models": ("tui.engine", "tui.screens", "tui.widgets", "tui.commands", "tui.app",
                   "tui.cli", "tui.plain", "tui.model_host", "textual"),
    "tui.widgets": ("tui.backends", "tui.screens", "tui.app", "tui.cli", "tui.plain",
                    "tui.model_host"),
    # The SSH server runs each game as a child process; it never loads the TUI itself.
    "tui.serve": ("tui.screens", "tui.widgets", "tui.commands", "tui.app", "tui.cli",
                  "tui.plain", "tui.model_host", "tui.keys", "textual", "rich"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports (absolute names; `from x import y` counts x and x.y)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else \
        module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges[name] = {m for m in imports_of(path) if m in modules and m != name}
    return edges


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_layers_import_only_what_they_may() -> None:
    bad = []
    for path in ROOT.rglob("*.py"):
        name = module_name(path)
        for layer, forbidden in FORBIDDEN.items():
            if not _under(name, layer):
                continue
            for imported in imports_of(path):
                if any(_under(imported, f) for f in forbidden):
                    bad.append(f"{name} imports {imported}")
    assert not bad, "\n".join(sorted(bad))


def test_core_imports_nothing_of_grues_but_itself() -> None:
    for path in (ROOT / "core").rglob("*.py"):
        for imported in imports_of(path):
            if _under(imported, "tui"):
                assert _under(imported, "tui.core"), f"{module_name(path)} imports {imported}"


def test_no_import_circles() -> None:
    edges = graph()
    # A module importing its own package's __init__ (or one of its parents) is not a circle
    # of design: Python runs the package first.
    for name in edges:
        edges[name] = {m for m in edges[name] if not _under(name, m)}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_rule_finds_a_violation(layer: str, tmp_path: Path) -> None:
    """The checker itself: a forbidden import in a file is seen."""
    probe = tmp_path / "probe.py"
    probe.write_text(f"def f():\n    from {FORBIDDEN[layer][0]} import x\n")
    assert any(_under(m, FORBIDDEN[layer][0]) for m in imports_of_probe(probe))


def imports_of_probe(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


# What the home screen's first frame must not wait for (docs/architecture.md, "Launch"): the
# model's library and its numerics, the chat template engine, the download clients, and
# Grue's own game screens and turn code. Each is imported when first used.
NOT_AT_LAUNCH = ("llama_cpp", "numpy", "jinja2", "huggingface_hub", "httpx",
                 "tui.engine.game", "tui.engine.chat", "tui.engine.context",
                 "tui.screens.adventure", "tui.screens.chat", "tui.screens.models",
                 "tui.backends.local", "tui.models.download")


def test_launch_imports_only_what_the_home_screen_needs() -> None:
    """`grue` with no arguments (cli.main's path to the home screen) imports none of
    NOT_AT_LAUNCH; the same probe sees them once a game's modules are imported."""
    probe = (
        "import sys, tui.cli\n"
        "from tui.app import GrueApp\n"
        "from tui.screens.home import HomeScreen\n"
        "GrueApp(); HomeScreen()\n"
        f"names = {NOT_AT_LAUNCH!r}\n"
        "print(' '.join(n for n in names if n in sys.modules))\n"
        "import tui.screens.adventure, tui.backends.local\n"
        "print(' '.join(n for n in names if n in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, check=True, timeout=120).stdout.splitlines()
    assert out[0] == "", f"imported at launch: {out[0]}"
    later = set(out[1].split())
    assert {"jinja2", "tui.engine.game", "tui.screens.adventure"} <= later  # the probe sees


def test_text_area_module_is_where_the_app_looks() -> None:
    """The app tells a TextArea by its module without importing it (`tui.app.is_text_area`)."""
    from textual.widgets import TextArea

    from tui.app import TEXT_AREA_MODULE, is_text_area

    assert TextArea.__module__ == TEXT_AREA_MODULE
    assert is_text_area(TextArea())
