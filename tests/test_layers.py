"""The package layers point one way, and no module imports itself through others.

The contract lives in pyproject.toml (``[tool.importlinter]``) and ``make lint`` checks it;
here it is shown to pass on the tree, and to fail once a wrong-way import is planted in a
copy of the tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "tasks", "verifiers", "analysis")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_tree(dst: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(
            ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    return dst


def test_the_layers_contract_holds() -> None:
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "One-way layers KEPT" in proc.stdout


@pytest.mark.parametrize(
    ("module", "planted"),
    [
        ("harness/core/records.py", "import harness.generate"),  # core reaching up
        ("analysis/passk.py", "from harness.report import page"),  # analysis -> report
        ("verifiers/exact.py", "import tasks.arith"),  # sideways between plugins
        ("harness/generate.py", "from harness.cli import app"),  # stage -> CLI
    ],
)
def test_a_wrong_way_import_breaks_the_contract(tmp_path: Path, module: str, planted: str) -> None:
    tree = copy_tree(tmp_path)
    path = tree / module
    source = path.read_text()
    # A function-level import counts as much as one at the top of the file.
    path.write_text(source + f"\n\ndef _planted() -> None:\n    {planted}  # noqa\n")
    proc = lint_imports(tree)
    assert proc.returncode != 0, proc.stdout
    assert "One-way layers BROKEN" in proc.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    assert importer in proc.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_two_modules_import_each_other() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert len(graph.modules) > 60  # the whole project was read
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_cycle(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    stats = tree / "analysis" / "passk.py"
    planted = "\n\ndef _planted() -> None:\n    import analysis.scaling\n"
    stats.write_text(stats.read_text() + planted)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import grimp, sys; sys.path.insert(0, sys.argv[1]);"
            "from test_layers import _cycles;"
            "print(_cycles(grimp.build_graph('analysis', cache_dir=None)))",
            str(tree),
        ],
        cwd=Path(__file__).parent,
        env={"PYTHONPATH": f"{tree}:{Path(__file__).parent}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "['analysis.passk', 'analysis.scaling']" in proc.stdout
