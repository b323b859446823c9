"""docs/architecture.md stays true: imports only go down the levels, and its line counts are current.

    python tests/test_architecture_doc.py --update     rewrite the line-count column from the files
"""

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
ROW = re.compile(r"^\| \[`(?P<path>[^`]+)`\]\([^)]*\) \| (?P<lines>\d+) \|", re.M)

# Level of each part of the package (docs/architecture.md). The core (levels 0-5) imports only its own level
# or lower; the edges (I/O around the network: data, images, metrics) import only level 0 and each other;
# the top parts (applications, training) may import anything below them, edges included.
LEVELS = {"backend": 0, "files": 0, "safe_pickle": 0, "serialization": 0, "arguments": 0,
          "random": 1, "tensor": 2, "gradcheck": 2,
          "functional": 3, "initializers": 4, "engine": 4, "layers": 4,
          "losses": 5, "optimizers": 5, "summary": 5, "weights_io": 5, "models": 5,
          "datasets": 1, "preprocessing": 1, "metrics": 1,   # edges
          "applications": 6, "training": 7}                   # top
EDGES = {"datasets", "preprocessing", "metrics"}
TOP = {"applications", "training"}
ALLOWED = set()  # no exceptions: Tensor's operators are installed by functional/arithmetic.py


def line_count(path):
    return len((REPO / path).read_text().splitlines())


def documented_counts():
    return {m["path"]: int(m["lines"]) for m in ROW.finditer(DOC.read_text())}


def test_documented_files_exist_and_counts_are_current():
    counts = documented_counts()
    assert len(counts) > 20, "the file table of docs/architecture.md was not found"
    stale = []
    for path, documented in counts.items():
        assert (REPO / path).is_file(), f"docs/architecture.md lists {path}, which does not exist"
        actual = line_count(path)
        if abs(actual - documented) > max(20, 0.2 * documented):
            stale.append(f"{path}: documented {documented}, now {actual}")
    assert not stale, ("docs/architecture.md line counts are stale (run python tests/test_architecture_doc.py "
                       "--update):\n" + "\n".join(stale))


def part_of(module_path):
    """minigan/functional/conv.py -> 'functional'; minigan/models.py -> 'models'."""
    parts = module_path.relative_to(REPO / "minigan").with_suffix("").parts
    return parts[0]


def imported_parts(path):
    """The minigan parts a module imports (relative or absolute imports)."""
    part = part_of(path)
    package_depth = len(path.relative_to(REPO / "minigan").parts) - 1  # 0 for minigan/x.py
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names = [node.module] if node.module and node.module.startswith("minigan.") else []
                names = [n.split(".")[1] for n in names]
            elif node.level - 1 == package_depth:  # relative to the minigan package itself
                names = [node.module.split(".")[0]] if node.module else [alias.name for alias in node.names]
            else:
                names = [part]  # inside its own subpackage
            yield from names


def test_imports_only_go_down():
    offenders = []
    for path in sorted((REPO / "minigan").rglob("*.py")):
        part = part_of(path)
        if part == "__init__" or part not in LEVELS:
            continue
        for target in imported_parts(path):
            if target == part or target not in LEVELS or (part, target) in ALLOWED:
                continue
            if part in EDGES:
                ok = target in EDGES or LEVELS[target] == 0
            elif part in TOP:
                ok = target in EDGES or LEVELS[target] <= LEVELS[part]
            else:
                ok = target not in EDGES and LEVELS[target] <= LEVELS[part]
            if not ok:
                offenders.append(f"{path.relative_to(REPO)} ({part}) imports {target}")
    assert not offenders, "imports must go down the levels of docs/architecture.md:\n" + "\n".join(offenders)


def update():
    text = DOC.read_text()
    text = ROW.sub(lambda m: m.group(0).replace(f"| {m['lines']} |", f"| {line_count(m['path'])} |"), text)
    DOC.write_text(text)


if __name__ == "__main__":
    if "--update" in sys.argv:
        update()
        print(f"updated line counts in {DOC}")
