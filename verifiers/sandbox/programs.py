"""The two programs a sample runs as, inside the sandbox.

* The **candidate** process loads the sample's program and only ever returns values:
  either for the list of calls it was given (``cases`` mode), or for call requests
  it receives from the driver (``check`` mode). It never sees expected values or
  test code.
* A **stdio** program (``run_stdio``) is a whole program run as ``__main__`` on the
  test's input; the worker (``stdio``) captures what it prints.
* The **driver** process (``check`` mode only) runs the problem's own test code with
  the candidate's functions replaced by proxies that call into the candidate process;
  return values arrive as plain decoded data, so nothing the candidate defines
  (``__eq__``, patched builtins, a redefined ``check``) runs in the driver. The driver
  runs under another uid where possible and is not dumpable, so the candidate cannot
  signal, trace or read it.

Both write JSON lines to a dedicated pipe, never to stdout. This module is
stdlib-only: its source is shipped into the sandbox.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import marshal
import os
import sys
from typing import Any

from sandbox_codec import CodecError, decode, dumps_compact, encode

MAX_REPLY = 16 << 20
_write = os.write


def send(fd: int, record: dict[str, Any]) -> None:
    """Write one JSON line to ``fd`` (whole, retrying short writes)."""
    _write_all(fd, (dumps_compact(record) + "\n").encode())


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[_write(fd, view) :]


def describe_exception(exc: BaseException, limit: int = 300) -> str:
    """``"Type: message"`` of an exception, cut short; never raises."""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:
        text = type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LineReader:
    """Reads newline-terminated records from a pipe, refusing lines over ``MAX_REPLY``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def readline(self) -> bytes | None:
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_REPLY:
                raise OSError("record too long")
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line


def _compile(source: str, filename: str) -> Any:
    # dont_inherit: the program must not get this module's __future__ imports.
    return compile(source, filename, "exec", dont_inherit=True)


def _load_program(program: Any) -> dict[str, Any]:
    """Run a program (source, or a code object the harness compiled) in a fresh namespace."""
    namespace: dict[str, Any] = {"__name__": "__candidate__", "__builtins__": builtins}
    code = _compile(program, "<candidate>") if isinstance(program, str) else program
    exec(code, namespace)
    return namespace


def _exit(code: Any = None) -> None:
    raise SystemExit(code)


def install_exit() -> None:
    """``exit()`` and ``quit()``, which ``site`` would add (the worker starts without it)."""
    builtins.exit = builtins.quit = _exit  # type: ignore[assignment]


def run_stdio(program: Any) -> int:
    """Run a whole program as ``__main__`` on the process's stdin/stdout; its exit status.

    An uncaught exception is described on stderr (the last line the harness shows) and
    exits with 1, as the interpreter does; output is flushed as at a normal exit.
    """
    code = 0
    try:
        exec(_compile(program, "<program>") if isinstance(program, str) else program,
             {"__name__": "__main__", "__builtins__": builtins})  # fmt: skip
    except SystemExit as exc:
        code = _exit_status(exc.code)
    except BaseException as exc:
        code = 1
        _tell(describe_exception(exc))
    try:
        sys.stdout.flush()
    except BaseException as exc:
        code = code or 1
        _tell("output: " + describe_exception(exc))
    return code


def _exit_status(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    _tell(str(value)[:300])
    return 1


def _tell(line: str) -> None:
    with contextlib.suppress(BaseException):
        sys.stderr.flush()
        os.write(2, ("\n" + line + "\n").encode("utf-8", "replace"))


def run_candidate(
    program: Any,
    entry: str,
    calls: list[tuple[list[Any], dict[str, Any]]] | None,
    out_fd: int,
    req_fd: int | None,
) -> None:
    """Load the program, then answer calls: the decoded ``calls``, or those read from ``req_fd``."""
    try:
        namespace = _load_program(program)
    except BaseException as exc:
        send(out_fd, {"load": "error", "e": describe_exception(exc)})
        return
    fn = namespace.get(entry)
    if not callable(fn):
        send(out_fd, {"load": "error", "e": f"NameError: entry point {entry!r} is not defined"})
        return
    if calls is not None:
        # Values go to the harness as data: objects of other types become opaque. The
        # records go out in one write at the end (a memory file: nothing blocks on it).
        lines = ['{"load":"ok"}']
        for i, (args, kwargs) in enumerate(calls):
            lines.append(dumps_compact({"i": i, **_call(fn, args, kwargs, None)}))
        lines.append('{"end":true}\n')
        _write_all(out_fd, "\n".join(lines).encode())
        return
    send(out_fd, {"load": "ok"})
    # The driver may pass objects back (a class instance built by one call and given to
    # the next), so they stay here and travel as handles.
    handles: list[Any] = []
    reader = LineReader(req_fd)  # type: ignore[arg-type]
    while (line := reader.readline()) is not None:
        req = json.loads(line)
        try:
            fn = namespace[str(req.get("f"))]
            args, kwargs = decode(req["a"], handles), decode(req["k"], handles)
        except BaseException as exc:
            send(out_fd, {"ok": False, "e": describe_exception(exc)})
            continue
        send(out_fd, _call(fn, args, kwargs, handles))


def _call(fn: Any, args: Any, kwargs: Any, handles: list[Any] | None) -> dict[str, Any]:
    try:
        value = fn(*args, **kwargs)
    except BaseException as exc:
        return {"ok": False, "e": describe_exception(exc)}
    try:
        return {"ok": True, "v": encode(value, handles)}
    except BaseException as exc:
        return {"ok": False, "e": "cannot return value: " + describe_exception(exc)}


class RemoteError(Exception):
    """A call into the candidate process raised (or the process is gone)."""


class _Remote:
    """Driver-side proxy for a function or object living in the candidate process."""

    def __init__(self, link: _Link, name: str) -> None:
        self._link, self._name = link, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._link.call(self._name, args, kwargs)

    def __repr__(self) -> str:
        return f"<candidate {self._name}>"


class _Link:
    def __init__(self, req_fd: int, rep_fd: int) -> None:
        self.req_fd, self.reader = req_fd, LineReader(rep_fd)
        self.calls = 0

    def first_record(self) -> dict[str, Any] | None:
        line = self.reader.readline()
        return None if line is None else json.loads(line)

    def call(self, name: str, args: Any, kwargs: Any) -> Any:
        self.calls += 1
        req = {"f": name, "a": encode(list(args)), "k": encode(dict(kwargs))}
        try:
            send(self.req_fd, req)
            line = self.reader.readline()
        except OSError as exc:
            raise RemoteError(f"candidate process unreachable: {exc}") from None
        if line is None:
            raise RemoteError("candidate process exited")
        try:
            reply = json.loads(line)
            if not reply.get("ok"):
                raise RemoteError(str(reply.get("e"))[:300])
            value = decode(reply["v"])
        except (ValueError, KeyError, TypeError, AttributeError, CodecError) as exc:
            raise RemoteError(f"malformed reply from the candidate: {exc}") from None
        # Objects that stay in the candidate process arrive as Handles; passed back as
        # arguments they resolve to the original objects there.
        return value


def _failure_line(exc: BaseException, sources: dict[str, str]) -> str:
    import traceback  # only on a failed test: kept out of the warm sandbox worker

    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename in sources:
            lines = sources[frame.filename].splitlines()
            lineno = frame.lineno or 0
            if 0 < lineno <= len(lines):
                where = f" at {lines[lineno - 1].strip()[:200]!r}"
            break
    return describe_exception(exc) + where


def run_driver(tests: dict[str, Any], out_fd: int, req_fd: int, rep_fd: int) -> None:
    """Run the problem's test code against proxies of the candidate's functions."""
    link = _Link(req_fd, rep_fd)
    first = link.first_record()
    if first is None:
        send(out_fd, {"load": "error", "e": "candidate process exited before loading"})
        return
    if first.get("load") != "ok":
        error = first.get("e") if "load" in first else "unexpected first record from the candidate"
        send(out_fd, {"load": "error", "e": str(error)[:300]})
        return
    send(out_fd, {"load": "ok"})
    namespace: dict[str, Any] = {"__name__": "__tests__", "__builtins__": builtins}
    sources = {"<setup>": tests.get("setup") or "", "<tests>": tests.get("test_code") or ""}
    # The harness sends the test code compiled too (filename -> code), when it compiles.
    codes: dict[str, Any] = marshal.loads(tests["blob"]) if tests.get("blob") else {}

    def code(src: str, filename: str) -> Any:
        return codes.get(filename) or _compile(src, filename)

    with contextlib.suppress(Exception):
        # The problem's own prompt code (helper functions such as encode_cyclic).
        exec(code(tests.get("prelude") or "", "<prelude>"), namespace)
    try:
        exec(code(sources["<setup>"], "<setup>"), namespace)
        exec(code(sources["<tests>"], "<tests>"), namespace)
    except BaseException as exc:
        send(out_fd, {"fatal": "test code failed to load: " + describe_exception(exc)})
        return
    entry = tests["entry_point"]
    for name in tests.get("free_names") or []:
        if name not in namespace and not hasattr(builtins, name):
            namespace[name] = _Remote(link, name)
    namespace[entry] = _Remote(link, entry)
    asserts = tests.get("asserts")
    if asserts is None:
        checks = [("check", f"check({entry})")]
    else:
        checks = [(f"<assert {i}>", src) for i, src in enumerate(asserts)]
    for i, (filename, src) in enumerate(checks):
        sources[filename] = src
        try:
            exec(code(src, filename), namespace)
            send(out_fd, {"i": i, "ok": True})
        except BaseException as exc:
            send(out_fd, {"i": i, "ok": False, "e": _failure_line(exc, sources)})
    send(out_fd, {"end": True, "calls": link.calls})
    sys.stdout.flush()
