"""Native libraries' log noise (MediaPipe, TensorFlow Lite, absl) kept out of the command line's output.

MediaPipe's graph threads write straight to file descriptor 2 ("INFO: Created TensorFlow Lite
XNNPACK delegate", "W0000 ... inference_feedback_manager.cc:114] Feedback manager requires ...")
after a graph starts and again after every reset, so no Python logging setting reaches them and
no short redirect around a call catches them. Instead fd 2 is pointed at /dev/null for as long as
labelling runs, while Python's own `sys.stderr` (progress bars, warnings, errors) is moved to a
copy of the original descriptor and keeps reaching the terminal.

`EGOCURATE_VERBOSE=1` (what `egocurate --verbose` sets, inherited by worker processes) leaves
everything as it is.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import sys
from collections.abc import Iterator

VERBOSE_ENV = "EGOCURATE_VERBOSE"  # "1": show third-party logs and full tracebacks
NATIVE_ENV_DEFAULTS = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}  # what settings can quiet
_diverted = 0  # nesting depth of `native_stderr_quiet` in this process (a worker stays at 1)


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def _divert() -> tuple[int, object]:
    """Point fd 2 at /dev/null; Python's stderr moves to a copy of the old fd. Returns what to restore."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    original = sys.stderr
    sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(saved), "wb", buffering=0), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True, write_through=True)
    return saved, original


def _restore(saved: int, original: object) -> None:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    diverted, sys.stderr = sys.stderr, original
    with contextlib.suppress(OSError, ValueError):
        diverted.close()


@contextlib.contextmanager
def native_stderr_quiet() -> Iterator[None]:
    """While inside, native writes to fd 2 are dropped and Python's stderr still shows (not when verbose)."""
    global _diverted
    for name, value in NATIVE_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if verbose() or _diverted:
        yield
        return
    saved, original = _divert()
    _diverted += 1
    try:
        yield
    finally:
        _diverted -= 1
        _restore(saved, original)


def quiet_worker_process() -> None:
    """In a spawned worker process, drop native writes to fd 2 for the rest of its life (not when verbose).

    Does nothing in the main process: there `native_stderr_quiet` brackets the work instead.
    """
    global _diverted
    for name, value in NATIVE_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if verbose() or _diverted or multiprocessing.parent_process() is None:
        return
    _divert()
    _diverted += 1
