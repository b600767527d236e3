"""crm_core stays usable without the UI: it never imports streamlit."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_crm_core_file_imports_streamlit():
    offenders = []
    for path in sorted((ROOT / "crm_core").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name == "streamlit" or name.startswith("streamlit.") for name in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_importing_every_crm_core_module_loads_no_streamlit():
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "crm_core").rglob("*.py")
        if "migrations" not in path.parts and path.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print('streamlit' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_page_scripts_hold_no_bare_values_streamlit_would_print():
    """Streamlit's magic writes every bare value of a script's top level on the page
    (a docstring under a constant, for one): only the module docstring may stand alone."""
    offenders = []
    for path in [ROOT / "app.py", *sorted((ROOT / "views").glob("*.py"))]:
        body = ast.parse(path.read_text(encoding="utf-8")).body
        for position, node in enumerate(body):
            if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Call):
                if position == 0 and isinstance(node.value, ast.Constant):
                    continue  # the module docstring, which magic leaves alone
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
