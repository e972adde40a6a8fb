"""Write the API reference pages (``docs/reference/<package>.md``) from the package tree.

One page per top-level package, one ``::: module`` block per module (mkdocstrings renders the
docstrings), so a module added, moved or removed shows up without editing a page by hand.
Run ``python docs/gen_reference.py``; ``--check`` exits 1 when a page is stale.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "dispatch", "environment", "flexibility", "grid", "scenarios", "traffic")


def _modules(pkg: str) -> list[str]:
    out = []
    for path in sorted((ROOT / pkg).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__" or "tools" in parts:
            continue
        out.append(".".join(parts))
    return out


def page(pkg: str) -> str:
    """The reference page of ``pkg``: its docstring's first paragraph, then every module."""
    doc = ast.get_docstring(ast.parse((ROOT / pkg / "__init__.py").read_text())) or ""
    lead = doc.split("\n\n")[0].replace("\n", " ").strip()
    blocks = "\n\n".join(f"::: {m}" for m in _modules(pkg))
    return (f"# `{pkg}`\n\n{lead}\n\nGenerated from the docstrings by mkdocstrings "
            f"(`python docs/gen_reference.py`).\n\n{blocks}\n")


def main(argv: list[str]) -> int:
    """Write (or with ``--check`` compare) every page."""
    stale = []
    for pkg in PACKAGES:
        path = ROOT / "docs" / "reference" / f"{pkg}.md"
        text = page(pkg)
        if "--check" in argv:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text)
    if stale:
        print("stale reference pages (run python docs/gen_reference.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
