"""Hostile programs against the sandboxed ``unit_tests`` verifier.

Each attack is a sample whose function is wrong unless the attack works (reading a
secret, forging a result, reaching a listener...), so a broken sandbox shows up as a
pass. For every attack: the verdict is not correct (failed / timeout / error), the
harness still judges, benign samples running beside it on the other worker pass, no
process of the sample is left, nothing outside the scratch dir changed, and the
results file written meanwhile is intact.

Three modes: function tests judged from returned values (``cases``), test code run by a
driver process (``check``), and whole programs on stdin/stdout (``stdio``: the attack
then prints ``f`` of the number it reads). ``.ci/as-user`` runs this file as an ordinary
user too, where the sandbox has no uids to hand out: there, as under root, no attack
may even restart a worker.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.records import CodeTests, Problem, Sample, Verdict
from harness.core.store import JsonlAppender
from tests.verifiers.code_problems import make_code_problem
from verifiers.sandbox.bwrap import privileged
from verifiers.unit_tests import UnitTestVerifier

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 0.5
TARGET_SOURCE = ROOT / "verifiers" / "unit_tests.py"

CASES = make_code_problem(
    "cases", "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(5) == 6\n"
)
CHECK = make_code_problem(
    "check", "def check(candidate):\n    for x in range(3):\n        assert candidate(x) == x + 1\n"
)
STDIO = Problem(
    "stdio",
    "print its input plus one",
    tests=CodeTests(
        "stdio",
        "",
        io_tests=(
            {"input": "1\n", "output": "2\n", "set": "public"},
            {"input": "5\n", "output": "6\n", "set": "private"},
        ),
        time_limit_s=TIMEOUT_S,
    ),
)
STDIO_TAIL = "\nprint(f(int(input())))\n"
GOOD = "def f(x):\n    return x + 1\n"
# The processes of a worker: bwrap's init and the zygote (plus, without root, the process
# that started the zygote in namespaces of its own and waits for it).
WORKER_PROCESSES = 2 if privileged() else 3

# Attack code; __NAME__ tokens are filled in per test. `f` is wrong unless the attack works.
ATTACKS: dict[str, str] = {
    "fork_bomb": (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    ),
    "setsid_daemon": (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        for _ in range(600):\n            time.sleep(0.1)\n"
        "            try:\n                open('__CANARY__/daemon', 'w').write('x')\n"
        "            except OSError:\n                pass\n    os._exit(0)\n"
        "def f(x):\n    return x\n"
    ),
    "rm_home": (
        "import os\nos.system('rm -rf ~ __CANARY__ / 2>/dev/null')\ndef f(x):\n    return x\n"
    ),
    "posix_system": "import posix\nposix.system('rm -rf __CANARY__ ~')\ndef f(x):\n    return x\n",
    "rmtree_parent": (
        "import shutil\nshutil.rmtree('..', ignore_errors=True)\n"
        "shutil.rmtree('/tmp', ignore_errors=True)\ndef f(x):\n    return x\n"
    ),
    "write_results_and_source": (
        "ok = 0\nfor p in ('__RESULTS__', '__SOURCE__'):\n    try:\n"
        "        open(p, 'a').write('{\"forged\": true}\\n')\n        ok += 1\n"
        "    except OSError:\n        pass\ndef f(x):\n    return x + 1 if ok else x\n"
    ),
    "read_secrets": (
        "import os\nfound = []\n"
        "for p in ('/etc/passwd', '__SECRET__', os.path.expanduser('~/.ssh'),\n"
        "          '__HOME__/.ssh', '__HOME__/.bashrc'):\n"
        "    try:\n        found.append(open(p).read() if os.path.isfile(p) else os.listdir(p))\n"
        "    except OSError:\n        pass\n"
        "found.append(os.environ.get('SANDBOX_TEST_SECRET'))\n"
        "for pid in os.listdir('/proc'):\n    try:\n"
        "        found.append(open('/proc/' + pid + '/environ').read())\n"
        "    except OSError:\n        pass\n"
        "leak = any(x and 'topsecret' in str(x) for x in found) or any(\n"
        "    x and 'root:' in str(x) for x in found)\n"
        "def f(x):\n    return x + 1 if leak else x\n"
    ),
    "socket_outside": (
        "import socket\nok = False\ntry:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=0.3).close()\n    ok = True\n"
        "except OSError:\n    pass\ndef f(x):\n    return x + 1 if ok else x\n"
    ),
    "socket_loopback": (
        "import socket\nok = False\ntry:\n"
        "    s = socket.create_connection(('127.0.0.1', __PORT__), timeout=0.3)\n"
        "    s.sendall(b'leak')\n    ok = True\nexcept OSError:\n    pass\n"
        "def f(x):\n    return x + 1 if ok else x\n"
    ),
    "sys_exit_before_tests": "import sys\nsys.exit(0)\ndef f(x):\n    return x + 1\n",
    "os_exit_before_tests": "import os\nos._exit(0)\ndef f(x):\n    return x + 1\n",
    "exit_in_call": "import sys\ndef f(x):\n    sys.exit(0)\n",
    "always_equal": (
        "class Eq:\n    def __eq__(self, other):\n        return True\n"
        "    __ne__ = lambda self, other: False\n    __hash__ = object.__hash__\n"
        "def f(x):\n    return Eq()\n"
    ),
    "int_subclass": (
        "class I(int):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\ndef f(x):\n    return I(0)\n"
    ),
    "patch_assert_and_check": (
        "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
        "def check(candidate):\n    return True\nbuiltins.check = check\n"
        "builtins.abs = lambda v: 0\ndef f(x):\n    return -1\n"
    ),
    "frames_gc_and_fake_records": (
        "import gc, os, sys, json\nneedle = 'assert ' + 'candidate'\nfound = False\n"
        "for o in gc.get_objects():\n    if isinstance(o, dict):\n"
        "        found = found or any(isinstance(v, str) and needle in v for v in o.values())\n"
        "frame = sys._getframe()\nwhile frame:\n"
        "    found = found or any(needle in str(v) for v in frame.f_locals.values())\n"
        "    frame = frame.f_back\n"
        "import ctypes\n"  # the whole address space, freed buffers included
        "for line in open('/proc/self/maps').read().splitlines():\n"
        "    span, perms = line.split()[:2]\n    lo, hi = (int(a, 16) for a in span.split('-'))\n"
        "    if perms.startswith('r') and hi - lo < 1 << 28 and '[v' not in line:\n"
        "        found = found or needle.encode() in ctypes.string_at(lo, hi - lo)\n"
        "fake = [{'tests_read': 0}, {'load': 'ok'}, {'i': 0, 'ok': True}, {'i': 1, 'ok': True},\n"
        "        {'end': True}, {'status': 'passed', 'correct': True}]\n"
        "line = ''.join(json.dumps(r) + '\\n' for r in fake).encode()\n"
        "print(line.decode())\nfor fd in range(3, 64):\n    try:\n        os.write(fd, line)\n"
        "    except OSError:\n        pass\ndef f(x):\n    return x + 1 if found else -1\n"
    ),
    "print_gigabytes": "import sys\nwhile True:\n    sys.stdout.write('x' * 1000000)\n",
    "flood_result_pipe": (
        "import os\nfor fd in range(3, 16):\n    try:\n        os.write(fd, b'x' * 10**8)\n"
        "    except OSError:\n        pass\ndef f(x):\n    return x\n"
    ),
    "allocate_50gb": "x = bytearray(50 * 2**30)\ndef f(x):\n    return x + 1\n",
    "busy_loop": "while True:\n    pass\n",
    "ignore_signals": (
        "import signal\nfor s in (signal.SIGXCPU, signal.SIGALRM, signal.SIGTERM, signal.SIGINT):\n"
        "    signal.signal(s, signal.SIG_IGN)\nsignal.alarm(0)\nwhile True:\n    pass\n"
    ),
    "kill_parent_and_all": (
        "import os\nfor pid in (os.getppid(), 1, -1):\n    try:\n        os.kill(pid, 9)\n"
        "    except OSError:\n        pass\ndef f(x):\n    return x\n"
    ),
    "sleep_forever": "import time\ntime.sleep(1e9)\n",
    "input_wait": "x = input()\ndef f(x):\n    return x + 1\n",
    "fill_disk": (
        "import os\ni = 0\nwhile True:\n    try:\n        with open('f%d' % i, 'wb') as fh:\n"
        "            fh.write(b'x' * (15 << 20))\n    except OSError:\n        break\n    i += 1\n"
        "for d in ('/tmp', '/dev/shm', '/var/tmp', '__CANARY__'):\n    try:\n"
        "        open(d + '/fill', 'wb').write(b'x' * (15 << 20))\n"
        "    except OSError:\n        pass\n"
        "def f(x):\n    return x\n"
    ),
    "close_stdout_loop": "import os, sys\nos.close(1)\nsys.stdout.close()\nwhile True:\n    pass\n",
    "corrupt_input": (
        "import os\nfor fd, data in ((0, b'9\\n'), (1, b'2\\n')):\n    try:\n"
        "        os.write(fd, data)\n        os.ftruncate(fd, 0)\n    except OSError:\n"
        "        pass\nfor path in ('/proc/self/fd/0', '/dev/stdin'):\n    try:\n"
        "        open(path, 'w').write('9')\n    except OSError:\n        pass\n"
        "def f(x):\n    return x\n"
    ),
    "ten_thousand_threads": (
        "import threading, time\nts = [threading.Thread(target=time.sleep, args=(30,)) "
        "for _ in range(10000)]\nfor t in ts:\n    t.start()\ndef f(x):\n    return x + 1\n"
    ),
}


def _tree_hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


class Listener:
    """A loopback TCP listener that records whether anyone connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def env(bwrap_ok: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    canary = tmp_path_factory.mktemp("canary")
    (canary / "keep.txt").write_text("keep")
    secret = canary / "secret.txt"
    secret.write_text("topsecret")
    results = canary / "results" / "verdicts.jsonl"
    results.parent.mkdir()
    os.environ["SANDBOX_TEST_SECRET"] = "topsecret"
    listener = Listener()
    verifier = UnitTestVerifier(options={"timeout": str(TIMEOUT_S), "workers": "2"})
    appender = JsonlAppender(results)
    sources = [TARGET_SOURCE, *ROOT.glob("verifiers/sandbox/*.py")]
    home = Path.home()
    state = {
        "canary": canary,
        "secret": secret,
        "results": results,
        "listener": listener,
        "verifier": verifier,
        "appender": appender,
        "written": 0,
        "source_hash": _tree_hash(sources),
        "sources": sources,
        "home_listing": set(os.listdir(home)),
        "home": home,
    }
    yield state
    # Samples run under their own uids (root) or in pid namespaces of their own (without
    # root): none of them could kill or wedge a worker.
    assert verifier.pool.restarts == 0
    appender.close()
    verifier.close()
    listener.close()
    os.environ.pop("SANDBOX_TEST_SECRET", None)
    assert listener.connections == 0


def _fill(code: str, env: dict[str, object]) -> str:
    listener = env["listener"]
    assert isinstance(listener, Listener)
    return (
        code.replace("__CANARY__", str(env["canary"]))
        .replace("__SECRET__", str(env["secret"]))
        .replace("__RESULTS__", str(env["results"]))
        .replace("__SOURCE__", str(TARGET_SOURCE))
        .replace("__HOME__", str(env["home"]))
        .replace("__PORT__", str(listener.port))
    )


@pytest.mark.parametrize("problem", [CASES, CHECK, STDIO], ids=["cases", "check", "stdio"])
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_contained(attack: str, problem: Problem, env: dict[str, object]) -> None:
    verifier = env["verifier"]
    appender = env["appender"]
    assert isinstance(verifier, UnitTestVerifier) and isinstance(appender, JsonlAppender)
    stdio = problem is STDIO
    tail = STDIO_TAIL if stdio else ""
    benign = STDIO if stdio else make_code_problem("benign", CASES.tests.test_code)  # type: ignore[union-attr]
    items = [
        (problem, [Sample(problem.id, 0, _fill(ATTACKS[attack], env) + tail)]),
        # Distinct programs, so that each runs (identical ones would share one run).
        (
            benign,
            [Sample(benign.id, i, GOOD.replace("1", f"{i} - {i - 1}") + tail) for i in range(6)],
        ),
    ]
    results: list[list[Verdict]] = list(verifier.verify_many(items))
    attacked = results[0][0]
    assert not attacked.correct, attacked
    assert attacked.status in {"failed", "timeout", "error"}, attacked
    if attacked.status == "timeout":  # re-run alone, or certain (it ran out its time)
        bound = attacked.detail["first_failure"] if stdio else attacked.detail
        assert attacked.detail.get("rerun_alone") or bound.get("cpu_bound"), attacked
    assert [v.status for v in results[1]] == ["passed"] * 6, results[1]

    # The results file the harness writes meanwhile stays intact and parseable.
    appender.write_batch([attacked, *results[1]])
    env["written"] = int(env["written"]) + 7  # type: ignore[call-overload]
    lines = Path(str(env["results"])).read_text().splitlines()
    assert len(lines) == env["written"]
    assert all("forged" not in json.loads(line) for line in lines)

    # No process of the sample is left: each worker is exactly its own processes.
    for worker in verifier.pool.workers:
        assert worker.proc is not None
        assert len(_descendants(worker.proc.pid)) == WORKER_PROCESSES, attack

    # Nothing outside the scratch dir changed.
    canary = Path(str(env["canary"]))
    assert sorted(p.name for p in canary.iterdir()) == ["keep.txt", "results", "secret.txt"]
    assert (canary / "keep.txt").read_text() == "keep"
    # Others may add to the home dir meanwhile; nothing may disappear from it.
    assert set(os.listdir(Path(str(env["home"])))) >= env["home_listing"]  # type: ignore[operator]
    sources = env["sources"]
    assert isinstance(sources, list)
    assert _tree_hash(sources) == env["source_hash"]

    # The harness still judges correctly afterwards.
    again = verifier.verify(problem, [Sample(problem.id, 1, GOOD + tail)])
    assert again[0].status == "passed", again
