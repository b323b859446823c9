"""Every ```python block in docs/*.md and README.md runs, in order, one namespace per page.

A page's blocks run in a temporary directory with MINIGAN_DATA pointing at the real frogs
(when present), so examples that load data or write files work offline and leave nothing behind.
Mark a block that must not run (a shell command, a long training run) with ```text or ```bash.
"""

import re

import pytest

from conftest import FROGS, REPO

PAGES = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page):
    return BLOCK.findall(page.read_text())


@pytest.mark.parametrize("page", [p for p in PAGES if p.exists() and python_blocks(p)],
                         ids=lambda p: p.name)
def test_docs_code_blocks_run(page, tmp_path, monkeypatch):
    uses_data = any(word in code for code in python_blocks(page) for word in ("cifar10", "MINIGAN_DATA", "load_data"))
    if uses_data and not FROGS.is_dir():
        pytest.skip(f"{page.name} uses the real frogs, not found at {FROGS}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MINIGAN_DATA", str(FROGS))
    monkeypatch.setenv("MINIGAN_HOME", str(tmp_path / "home"))
    import minigan
    minigan.set_backend("numpy")
    namespace = {"__name__": f"docs_{page.stem}"}
    for number, code in enumerate(python_blocks(page), 1):
        try:
            exec(compile(code, f"{page.name} (block {number})", "exec"), namespace)
        except Exception as error:  # say which page and block, with the code
            raise AssertionError(f"{page.name}, python block {number} failed: {error!r}\n---\n{code}") from error


LINK = re.compile(r"\]\(([^)\s]+)\)|src=\"([^\"]+)\"")


@pytest.mark.parametrize("page", [p for p in PAGES if p.exists()], ids=lambda p: p.name)
def test_docs_links_point_at_files_that_exist(page):
    """Every relative link and image of a page names a file of the repository (links outside it, such
    as the book's reference picture in ../shared/, and web addresses are not checked)."""
    missing = []
    for match in LINK.finditer(page.read_text()):
        target = (match.group(1) or match.group(2)).split("#")[0]
        if not target or "://" in target or target.startswith("mailto:"):
            continue
        path = (page.parent / target).resolve()
        if REPO.resolve() in path.parents and not path.exists():
            missing.append(target)
    assert not missing, f"{page.name} links to missing files: {missing}"
