"""Competitive-programming problems for the stdio tests, as CodeContests rows.

Four problems in the dataset's own columns (``name``, ``description``,
``public_tests``, ``private_tests``, ``generated_tests``, ``time_limit``), with hidden
tests made from a fixed seed (the expected outputs come from the reference functions
here, run by the test process, never by the sandbox) and one big test each that only
an efficient program passes in time. Each problem comes with programs: a correct one,
correct ones written differently (other formatting, case, precision), and wrong ones
that fail in a stated way: ``wrong_answer``, ``too_slow``, ``runtime_error``,
``wrong_format`` and ``reads_too_little``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TIME_LIMIT_S = 1.0
BIG = 30_000


@dataclass
class ContestProblem:
    """A problem: its row, and programs keyed by what they should be judged."""

    name: str
    description: str
    solve: Callable[[str], str]
    public: list[str]
    private: list[str]
    generated: list[str]
    programs: dict[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The problem as a CodeContests row."""

        def tests(inputs: list[str]) -> dict[str, list[str]]:
            return {"input": inputs, "output": [self.solve(i) for i in inputs]}

        return {
            "name": self.name,
            "description": self.description,
            "public_tests": tests(self.public),
            "private_tests": tests(self.private),
            "generated_tests": tests(self.generated),
            "time_limit": {"seconds": int(TIME_LIMIT_S), "nanos": 0},
            "memory_limit_bytes": 256 << 20,
            "difficulty": 7,
            "source": 2,
            "cf_tags": ["implementation"],
            "solutions": {"language": [2, 3], "solution": ["// C++", self.programs["correct"]]},
        }


# -- 1. range sums ------------------------------------------------------------------
def _range_sums(text: str) -> str:
    data = text.split()
    n, q = int(data[0]), int(data[1])
    prefix = [0]
    for x in data[2 : 2 + n]:
        prefix.append(prefix[-1] + int(x))
    out = []
    for i in range(q):
        left, right = int(data[2 + n + 2 * i]), int(data[3 + n + 2 * i])
        out.append(str(prefix[right] - prefix[left - 1]))
    return "\n".join(out) + "\n"


def _range_input(rng: random.Random, n: int, q: int) -> str:
    values = " ".join(str(rng.randint(-(10**9), 10**9)) for _ in range(n))
    lines = [f"{n} {q}", values]
    for _ in range(q):
        a, b = sorted((rng.randint(1, n), rng.randint(1, n)))
        lines.append(f"{a} {b}")
    lines.append(f"1 {n}")  # (a query that reaches the last element)
    lines[0] = f"{n} {q + 1}"
    return "\n".join(lines) + "\n"


RANGE_SUMS = ContestProblem(
    name="range_sums",
    description=(
        "You are given an array a_1, a_2, ..., a_n and q queries. Each query is two indices "
        "l and r, and its answer is a_l + a_{l+1} + ... + a_r.\n\nInput\n\nThe first line "
        "contains n and q (1 ≤ n, q ≤ 3·10^4). The second line contains a_1, ..., a_n "
        "(|a_i| ≤ 10^9). Each of the next q lines contains l and r (1 ≤ l ≤ r ≤ n).\n\n"
        "Output\n\nPrint the answer to each query on its own line.\n\nExample\n\nInput\n\n"
        "5 3\n1 2 3 4 5\n1 3\n2 2\n1 5\n\n\nOutput\n\n6\n2\n15\n"
    ),
    solve=_range_sums,
    public=["5 3\n1 2 3 4 5\n1 3\n2 2\n1 5\n"],
    private=[_range_input(random.Random(s), 8 + s, 6) for s in range(3)],
    generated=[_range_input(random.Random(7), BIG, BIG)],
    programs={
        "correct": (
            "import sys\n\ndef main():\n    data = sys.stdin.buffer.read().split()\n"
            "    n, q = int(data[0]), int(data[1])\n    prefix = [0] * (n + 1)\n"
            "    for i in range(n):\n        prefix[i + 1] = prefix[i] + int(data[2 + i])\n"
            "    out = []\n    pos = 2 + n\n    for _ in range(q):\n"
            "        l, r = int(data[pos]), int(data[pos + 1])\n        pos += 2\n"
            "        out.append(prefix[r] - prefix[l - 1])\n"
            "    sys.stdout.write('\\n'.join(map(str, out)) + '\\n')\n\n"
            "if __name__ == '__main__':\n    main()\n"
        ),
        "correct_accumulate": (
            "from itertools import accumulate\nimport sys\n"
            "data = list(map(int, sys.stdin.read().split()))\nn, q = data[0], data[1]\n"
            "p = [0, *accumulate(data[2:2 + n])]\nrest = data[2 + n:]\n"
            "print(*(p[rest[2 * i + 1]] - p[rest[2 * i] - 1] for i in range(q)),\n"
            "      sep='  \\n', end='')\n"
        ),
        "wrong_answer": (
            "import sys\ndata = sys.stdin.read().split()\nn, q = int(data[0]), int(data[1])\n"
            "p = [0]\nfor x in data[2:2 + n]:\n    p.append(p[-1] + int(x))\n"
            "for i in range(q):\n    l, r = int(data[2 + n + 2 * i]), int(data[3 + n + 2 * i])\n"
            "    print(p[r - 1] - p[l - 1])\n"
        ),
        "too_slow": (
            "import sys\ninput = sys.stdin.readline\nn, q = map(int, input().split())\n"
            "a = list(map(int, input().split()))\nout = []\nfor _ in range(q):\n"
            "    l, r = map(int, input().split())\n    s = 0\n    for i in range(l - 1, r):\n"
            "        s += a[i]\n    out.append(s)\nprint('\\n'.join(map(str, out)))\n"
        ),
        "runtime_error": (
            "n, q = map(int, input().split())\na = list(map(int, input().split()))\n"
            "for _ in range(q):\n    l, r = map(int, input().split())\n"
            "    print(sum(a[l:r]) + a[r])\n"
        ),
        "wrong_format": (
            "import sys\ndata = sys.stdin.read().split()\nn, q = int(data[0]), int(data[1])\n"
            "p = [0]\nfor x in data[2:2 + n]:\n    p.append(p[-1] + int(x))\nans = []\n"
            "for i in range(q):\n    l, r = int(data[2 + n + 2 * i]), int(data[3 + n + 2 * i])\n"
            "    ans.append(p[r] - p[l - 1])\nprint(ans)\n"
        ),
        "reads_too_little": (
            "n, q = map(int, input().split())\na = list(map(int, input().split()))\n"
            "l, r = map(int, input().split())\nprint(sum(a[l - 1:r]))\n"
        ),
    },
)


# -- 2. moves to divisibility (several test cases per input) ----------------------------
def _moves(text: str) -> str:
    data = text.split()
    t = int(data[0])
    pairs = [(int(data[1 + 2 * i]), int(data[2 + 2 * i])) for i in range(t)]
    return "".join(f"{(b - a % b) % b}\n" for a, b in pairs)


def _moves_input(rng: random.Random, t: int, top: int) -> str:
    pairs = [(rng.randint(1, top), rng.randint(1, top)) for _ in range(t)]
    pairs += [(12, 4), (top, 1)]  # (already divisible)
    return f"{len(pairs)}\n" + "".join(f"{a} {b}\n" for a, b in pairs)


MOVES = ContestProblem(
    name="moves_to_divisibility",
    description=(
        "You are given two positive integers a and b. In one move you can increase a by 1. "
        "Find the minimum number of moves needed to make a divisible by b.\n\nInput\n\n"
        "The first line contains t (1 ≤ t ≤ 10^4), the number of test cases. Each of the "
        "next t lines contains a and b (1 ≤ a, b ≤ 10^9).\n\nOutput\n\nFor each test case "
        "print one integer: the minimum number of moves.\n\nExample\n\nInput\n\n"
        "3\n10 4\n13 9\n92 46\n\n\nOutput\n\n2\n5\n0\n"
    ),
    solve=_moves,
    public=["3\n10 4\n13 9\n92 46\n"],
    private=[_moves_input(random.Random(10 + s), 5, 50) for s in range(3)],
    generated=[_moves_input(random.Random(17), 10_000, 10**9)],
    programs={
        "correct": (
            "t = int(input())\nfor _ in range(t):\n    a, b = map(int, input().split())\n"
            "    print((b - a % b) % b)\n"
        ),
        "correct_no_newline": (
            "import sys\nd = sys.stdin.read().split()\n"
            "sys.stdout.write(' '.join(str(-int(a) % int(b)) for a, b in zip(d[1::2], d[2::2])))\n"
        ),
        "wrong_answer": (
            "t = int(input())\nfor _ in range(t):\n    a, b = map(int, input().split())\n"
            "    print(b - a % b)\n"
        ),
        "too_slow": (
            "t = int(input())\nfor _ in range(t):\n    a, b = map(int, input().split())\n"
            "    moves = 0\n    while (a + moves) % b:\n        moves += 1\n    print(moves)\n"
        ),
        "runtime_error": (
            "t = int(input())\nfor _ in range(t):\n    a, b = map(int, input())\n"
            "    print((b - a % b) % b)\n"
        ),
        "wrong_format": (
            "t = int(input())\nfor i in range(t):\n    a, b = map(int, input().split())\n"
            "    print(f'Case #{i + 1}: {(b - a % b) % b}')\n"
        ),
        "reads_too_little": (
            "t = int(input())\na, b = map(int, input().split())\nprint((b - a % b) % b)\n"
        ),
    },
)


# -- 3. mean (a real-valued answer) -----------------------------------------------------
def _mean(text: str) -> str:
    data = text.split()
    n = int(data[0])
    return f"{sum(int(x) for x in data[1 : 1 + n]) / n:.9f}\n"


def _mean_input(rng: random.Random, n: int) -> str:
    return f"{n}\n" + "".join(f"{rng.randint(-(10**6), 10**6)}\n" for _ in range(n))


MEAN = ContestProblem(
    name="mean",
    description=(
        "Given n integers, print their mean. Your answer is accepted if its absolute or "
        "relative error is at most 10^{-6}.\n\nInput\n\nThe first line contains n "
        "(1 ≤ n ≤ 3·10^4). Each of the next n lines contains one integer x_i "
        "(|x_i| ≤ 10^6).\n\nOutput\n\nPrint the mean.\n\nExamples\n\nInput\n\n4\n1\n2\n3\n"
        "4\n\n\nOutput\n\n2.500000000\n\n\nInput\n\n1\n-7\n\n\nOutput\n\n-7.000000000\n"
    ),
    solve=_mean,
    public=["4\n1\n2\n3\n4\n", "1\n-7\n"],
    private=[_mean_input(random.Random(20 + s), 3 + s) for s in range(3)],
    generated=[_mean_input(random.Random(27), BIG)],
    programs={
        "correct": (
            "import sys\nd = sys.stdin.read().split()\nn = int(d[0])\n"
            "print(sum(map(int, d[1:n + 1])) / n)\n"
        ),
        "correct_fixed_point": (
            "import sys\nd = sys.stdin.read().split()\nn = int(d[0])\n"
            "print('%.12f' % (sum(map(int, d[1:n + 1])) / n))\n"
        ),
        "wrong_answer": (
            "import sys\nd = sys.stdin.read().split()\nn = int(d[0])\n"
            "print(sum(map(int, d[1:n + 1])) // n)\n"
        ),
        "too_slow": (
            "import sys\nd = sys.stdin.read().split()\nn = int(d[0])\n"
            "xs = [int(x) for x in d[1:n + 1]]\n"
            "total = 0\nfor i in range(n):\n    total = sum(xs[:i + 1])\nprint(total / n)\n"
        ),
        "runtime_error": (
            "import sys\nd = sys.stdin.read().split()\nn = int(d[0])\nxs = list(map(int, d[1:]))\n"
            "print(sum(xs) / (len(xs) - 1) * (len(xs) - 1) / n)\n"
        ),
        "wrong_format": (
            "import sys\nd = sys.stdin.read().split()\nn = int(d[0])\n"
            "print('mean =', sum(map(int, d[1:n + 1])) / n)\n"
        ),
        "reads_too_little": (
            "n = int(input())\nxs = list(map(int, input().split()))\nprint(sum(xs) / n)\n"
        ),
    },
)


# -- 4. palindromes (YES / NO answers) ----------------------------------------------------
def _palindromes(text: str) -> str:
    words = text.split()[1:]
    return "".join("YES\n" if w == w[::-1] else "NO\n" for w in words)


def _palindrome_input(rng: random.Random, t: int, length: int) -> str:
    words = []
    for i in range(t):
        half = "".join(rng.choice("ab") for _ in range(length))
        words.append(half + half[::-1] if i % 2 else half + "ba")
    return f"{t}\n" + "".join(w + "\n" for w in words)


PALINDROMES = ContestProblem(
    name="palindromes",
    description=(
        "For each of t strings of lowercase letters, tell whether it reads the same "
        "backwards.\n\nInput\n\nThe first line contains t (1 ≤ t ≤ 100). Each of the next "
        "t lines contains a string of at most 6·10^4 letters.\n\nOutput\n\nFor each string "
        "print YES if it is a palindrome, NO otherwise.\n\nExample\n\nInput\n\n3\nabba\nab\n"
        "x\n\n\nOutput\n\nYES\nNO\nYES\n"
    ),
    solve=_palindromes,
    public=["3\nabba\nab\nx\n"],
    private=[_palindrome_input(random.Random(30 + s), 6, 5 + s) for s in range(3)],
    generated=[_palindrome_input(random.Random(37), 4, BIG)],
    programs={
        "correct": (
            "t = int(input())\nfor _ in range(t):\n    s = input().strip()\n"
            "    print('YES' if s == s[::-1] else 'NO')\n"
        ),
        "correct_other_case": (
            "import sys\nlines = sys.stdin.read().split()\n"
            "for s in lines[1:]:\n"
            "    print('Yes' if s == ''.join(reversed(s)) else 'no', end=' ')\n"
        ),
        "wrong_answer": (
            "t = int(input())\nfor _ in range(t):\n    s = input().strip()\n"
            "    print('YES' if s[0] == s[-1] else 'NO')\n"
        ),
        "too_slow": (
            "t = int(input())\nfor _ in range(t):\n    s = input().strip()\n    n = len(s)\n"
            "    ok = all(s[i] == s[j] for i in range(n) for j in range(n) if i + j == n - 1)\n"
            "    print('YES' if ok else 'NO')\n"
        ),
        "runtime_error": (
            "t = int(input())\nfor _ in range(t):\n    s = input().strip()\n"
            "    print('YES' if all(s[i] == s[len(s) - i] for i in range(len(s))) else 'NO')\n"
        ),
        "wrong_format": (
            "t = int(input())\nfor _ in range(t):\n    s = input().strip()\n"
            "    print(s == s[::-1])\n"
        ),
        "reads_too_little": (
            "t = int(input())\ns = input().strip()\nprint('YES' if s == s[::-1] else 'NO')\n"
        ),
    },
)

PROBLEMS = (RANGE_SUMS, MOVES, MEAN, PALINDROMES)
# What each program's verdict must be: (status, the judge's word).
EXPECTED = {
    "correct": ("passed", "accepted"),
    "wrong_answer": ("failed", "wrong_answer"),
    "too_slow": ("timeout", "time_limit_exceeded"),
    "runtime_error": ("failed", "runtime_error"),
    "wrong_format": ("failed", "wrong_answer"),
    "reads_too_little": ("failed", "wrong_answer"),
}


def expected(kind: str) -> tuple[str, str]:
    """The verdict a program of ``kind`` must get (variants of correct pass)."""
    return EXPECTED["correct" if kind.startswith("correct") else kind]
