"""The executor seam: heavy stages spread items over worker processes through one small interface.

    with make_executor("local", workers=2) as pool:
        for outcome in pool.map_unordered(label_clip, tasks):
            ...  # outcome.item, outcome.value, outcome.error

`LocalExecutor` is a spawn-context process pool (workers=1 runs in-process, for debugging and
profiling); `RayExecutor` submits the same top-level function as Ray tasks, joining a running Ray
instance (`ray.init(...)` done by the caller, or `RAY_ADDRESS`) or starting a local one. Both keep
a bounded number of items in flight, so millions of items never sit in memory as futures, and both
turn one item's exception into that item's `Outcome.error` instead of ending the run. `prefetch`
overlaps a producer (video decoding) with its consumer (inference) inside a worker.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")
EXECUTORS = ("local", "ray")
IN_FLIGHT_PER_WORKER = 2  # queued items per worker: keeps workers busy without hoarding memory
_DONE = object()  # end of an iterator (items themselves may be anything)


@dataclass(frozen=True)
class Outcome(Generic[T, R]):
    """The result of `fn(item)`: `value`, or the exception it raised in `error`."""

    item: T
    value: R | None = None
    error: BaseException | None = None


class Executor(Protocol):
    """What a stage needs from a pool of workers (LocalExecutor, RayExecutor)."""

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        """Apply a top-level (picklable) `fn` to every item; yield outcomes as they complete."""
        ...

    def close(self) -> None:
        """Release the workers (an executor is also a context manager)."""
        ...


class LocalExecutor:
    """A process pool on this machine (spawn context: safe with threads and native libraries)."""

    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        """See `Executor.map_unordered`; `fn` must be importable by spawned processes."""
        if self.workers == 1:
            for item in items:
                try:
                    yield Outcome(item, fn(item))
                except Exception as exc:  # noqa: BLE001 (an item's failure is its outcome)
                    yield Outcome(item, error=exc)
            return
        pending = iter(items)
        in_flight: dict[Future, T] = {}
        self._pool = self._pool or self._new_pool()
        while True:
            while len(in_flight) < self.workers * IN_FLIGHT_PER_WORKER and (item := next(pending, _DONE)) is not _DONE:
                in_flight[self._pool.submit(fn, item)] = item
            if not in_flight:
                return
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    yield Outcome(in_flight[future], future.result())
                except BrokenProcessPool as exc:
                    # A worker died (killed, out of memory, native crash) and took the pool with
                    # it: every item in flight fails with that reason, a fresh pool takes the rest.
                    for lost in list(in_flight):
                        yield Outcome(in_flight.pop(lost), error=exc)
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool()
                    break
                except Exception as exc:  # noqa: BLE001 (an item's failure is its outcome)
                    yield Outcome(in_flight[future], error=exc)
                in_flight.pop(future)

    def close(self) -> None:
        """Shut the pool down (waits for running items; queued ones are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Ray tasks, one CPU each. Joins a running Ray instance, or starts a local one (and stops it)."""

    def __init__(self, num_cpus: int | None = None, address: str | None = None) -> None:
        import ray

        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            # A cluster named by RAY_ADDRESS sets its own CPUs (Ray refuses num_cpus when joining).
            address = address or os.environ.get("RAY_ADDRESS")
            # Workers import the project from the installed package; no dashboard needed for jobs.
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     log_to_driver=False)
        self.num_cpus = int(ray.cluster_resources().get("CPU", num_cpus or 1))

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        """See `Executor.map_unordered`; `fn` must be importable by the Ray workers."""
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=0)(fn)
        pending = iter(items)
        in_flight: dict[Any, T] = {}
        while True:
            while len(in_flight) < self.num_cpus * IN_FLIGHT_PER_WORKER and (item := next(pending, _DONE)) is not _DONE:
                in_flight[remote.remote(item)] = item
            if not in_flight:
                return
            done, _ = ray.wait(list(in_flight), num_returns=1)
            item = in_flight.pop(done[0])
            try:
                yield Outcome(item, ray.get(done[0]))
            except ray.exceptions.RayTaskError as exc:
                yield Outcome(item, error=exc.as_instanceof_cause())
            except ray.exceptions.RayError as exc:  # a worker died or the task was lost
                yield Outcome(item, error=exc)

    def close(self) -> None:
        """Stop Ray if this executor started it; an instance the caller started keeps running."""
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False


def make_executor(kind: str = "local", workers: int = 2) -> LocalExecutor | RayExecutor:
    """`local` (a process pool of `workers`) or `ray` (`workers` CPUs when starting Ray here)."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(num_cpus=workers)
    raise ValueError(f"executor must be one of {EXECUTORS}, got {kind!r}")


def prefetch(source: Iterable[T], depth: int = 8) -> Iterator[T]:
    """Iterate `source` in a background thread, at most `depth` items ahead of the consumer.

    The producer's exception is re-raised in the consumer; when the consumer stops early, the
    producer is told to stop and its thread ends.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for value in source:
                if not put(value):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer, raised there)
            put(exc)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while (value := buffer.get()) is not _DONE:
            if isinstance(value, BaseException):
                raise value
            yield value
    finally:
        stop.set()
        thread.join()
