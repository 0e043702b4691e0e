"""The engine never imports Textual (docs/architecture.md, "Layers and import rules")."""

import subprocess
import sys


def test_engine_and_backends_import_without_textual() -> None:
    code = (
        "import sys, pkgutil, importlib, tui.core, tui.engine, tui.backends\n"
        "for pkg in (tui.core, tui.engine, tui.backends):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
