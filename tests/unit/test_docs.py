"""The documentation's promises, checked cheaply (no mkdocs import; CI builds the site).

* README.md stays short (the manual is the docs site): at most ``README_MAX_LINES`` lines;
* every page in mkdocs.yml's ``nav`` exists under ``docs/``;
* every local file README.md links to or shows exists;
* the scenario reference is what ``docs/gen_scenario_reference.py`` writes from the models.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README_MAX_LINES = 250


def nav_pages(text: str) -> list[str]:
    """The ``.md`` pages listed in the ``nav:`` block of an mkdocs.yml text."""
    pages: list[str] = []
    in_nav = False
    for line in text.splitlines():
        if re.match(r"^nav:\s*$", line):
            in_nav = True
            continue
        if in_nav and line and not line[0].isspace():
            break  # the next top-level key
        found = re.search(r"([\w./-]+\.md)\s*$", line) if in_nav else None
        if found:
            pages.append(found.group(1))
    return pages


def test_readme_is_short():
    n = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert n <= README_MAX_LINES, (f"README.md has {n} lines (at most {README_MAX_LINES}); move "
                                   "the detail into a page under docs/")


def test_nav_pages_exist():
    pages = nav_pages((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert len(pages) >= 10, f"mkdocs.yml nav not read: {pages}"
    missing = [p for p in pages if not (ROOT / "docs" / p).is_file()]
    assert not missing, f"pages in mkdocs.yml nav missing under docs/: {missing}"


def test_nav_reader_sees_a_missing_page():
    text = "site_name: x\nnav:\n  - Home: index.md\n  - Guide:\n      - a: guide/a.md\ntheme: x\n"
    assert nav_pages(text) == ["index.md", "guide/a.md"]


def test_readme_local_links_exist():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [t.split("#")[0] for t in targets if not re.match(r"^[a-z]+:", t) and t[0] != "#"]
    missing = [t for t in local if not (ROOT / t).exists()]
    assert local and not missing, f"README.md links to missing files: {missing}"


def test_scenario_reference_up_to_date():
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_scenario_reference.py"),
                          "--check"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


def test_api_reference_lists_every_module():
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_reference.py"), "--check"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
