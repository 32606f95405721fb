"""Each sample starts in an empty scratch dir, whatever the sample before it left there.

The worker reuses one scratch path, emptied and made afresh between samples; these
samples run one after another on one worker and leave files, a directory tree too deep
to delete by recursion, and symlinks to directories outside (which must not be
followed when emptying it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.core.records import Sample
from tests.verifiers.code_problems import make_code_problem
from verifiers.sandbox.sysutil import rmtree
from verifiers.unit_tests import UnitTestVerifier

EMPTY = make_code_problem("empty", "def check(candidate):\n    assert candidate(0) == 0\n")
# 0 only in an empty scratch dir that is also HOME, TMPDIR and the working directory.
LOOK = (
    "import os, tempfile\n"
    "def f(x):\n"
    "    here = os.getcwd()\n"
    "    same = os.environ['HOME'] == os.environ['TMPDIR'] == tempfile.gettempdir() == here\n"
    "    return len(os.listdir(here)) + (0 if same else 100)\n"
)
LITTER = (
    "import os\n"
    "open('file', 'w').write('x')\n"
    "os.makedirs('a/b/c')\n"
    "open('a/b/c/deep', 'w').write('y')\n"
    "os.symlink('__OUTSIDE__', 'link')\n"
    "os.symlink('..', 'up')\n"
    "os.mkfifo('fifo')\n"
    "d = 'tree'\n"
    "for _ in range(1500):\n"
    "    os.mkdir(d)\n"
    "    os.chdir(d)\n"
    "    d = 't'\n"
    "def f(x):\n"
    "    return 1\n"
)


@pytest.mark.parametrize("sandbox", [pytest.param("bwrap", marks=pytest.mark.slow), "none"])
def test_next_sample_gets_an_empty_scratch_dir(
    sandbox: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    unit_verifier: Callable[..., UnitTestVerifier],
) -> None:
    if sandbox == "bwrap":
        request.getfixturevalue("bwrap_ok")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("kept")
    litter = LITTER.replace("__OUTSIDE__", str(outside))
    v = unit_verifier(sandbox=sandbox, workers=1, timeout=10)
    texts = [LOOK, litter, LOOK, litter, litter, LOOK]
    verdicts = v.verify(EMPTY, [Sample("empty", i, t) for i, t in enumerate(texts)])
    statuses = [x.status for x in verdicts]
    assert statuses == ["passed", "failed", "passed", "failed", "failed", "passed"]
    assert (outside / "keep").read_text() == "kept"  # the symlink was not followed


def test_rmtree_deletes_a_tree_of_any_depth_and_never_follows_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / "keep").write_text("kept")
    tree = tmp_path / "tree"
    tree.mkdir()
    fd = os.open(tree, os.O_RDONLY)
    for _ in range(2500):  # deeper than recursion, and than PATH_MAX, allow
        os.mkdir("d", dir_fd=fd)
        deeper = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(fd)
    (tree / "link").symlink_to(outside)
    (tree / "d" / "sub-link").symlink_to(outside / "sub")
    os.mkfifo(tree / "fifo")
    rmtree(str(tree))
    assert not tree.exists()
    # A path that is itself a link (a sample swapped its dir for one): only the link goes.
    swapped = tmp_path / "swapped"
    swapped.symlink_to(outside)
    rmtree(str(swapped))
    assert not swapped.exists() and not swapped.is_symlink()
    assert (outside / "sub" / "keep").read_text() == "kept"
