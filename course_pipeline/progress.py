"""How far a sync has got, from the sync step to whoever shows it: `course-pipeline sync` draws a bar per
vendor. No Dagster here.

The sync asset reports (vendor, source, done, total) each time a batch is settled (`report`); every
listener registered in this process (`listening`) gets the event, in the step's worker threads. With no
listener (a run launched from the UI, the daemon), `report` does nothing. Like the `course_pipeline.waiting`
logger, it only reaches a command that runs the assets in its own process, as `sync` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
)
from rich.text import Text


@dataclass(frozen=True)
class ProgressEvent:
    vendor: str
    source: str
    done: int  # items settled so far (sent and answered, or given up on)
    total: int  # items this step sends (creates, updates, deactivations)


Listener = Callable[[ProgressEvent], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def report(vendor: str, source: str, done: int, total: int) -> None:
    """Tell every listener; a listener that fails is not the sync's problem."""
    with _lock:
        listeners = list(_listeners)
    event = ProgressEvent(vendor, source, done, total)
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # a display must never fail a sync
            pass


@contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    with _lock:
        _listeners.append(listener)
    try:
        yield listener
    finally:
        with _lock:
            _listeners.remove(listener)


class Bars:
    """One rich progress bar per vendor (and source) on `console`: items done of total, the rate and the
    time left. A listener for `listening`; start and stop it as a context manager."""

    def __init__(self, console: Console, get_time: Callable[[], float] | None = None):
        # Prints to stderr while the bars are drawn go above them; stdout is left alone (--json, pipes).
        # get_time: the clock of the rate and the time left (time.monotonic unless a test moves its own).
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                                 TimeLeft(), console=console, redirect_stdout=False, redirect_stderr=True,
                                 get_time=get_time)
        self._tasks: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        key = (event.source, event.vendor)
        with self._lock:  # worker threads settle batches in any order: a bar only moves forward
            if key not in self._tasks:
                self._tasks[key] = self.progress.add_task(f"{event.vendor} ({event.source})", total=event.total)
            task = self._tasks[key]
            done = max(event.done, int(self.progress.tasks[self.progress.task_ids.index(task)].completed))
            self.progress.update(task, completed=done, total=event.total)

    def __enter__(self) -> Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Draw the bars as they are, one last time, and give the terminal back (idempotent)."""
        self.progress.stop()


def _rate(task: Task) -> float | None:
    """Items a second since the step began sending (steady where rich's recent-window estimate jumps with
    the bursts of parallel batches); None until an item is done."""
    elapsed = task.finished_time if task.finished else task.elapsed
    return task.completed / elapsed if elapsed and task.completed else None


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"


class Rate(ProgressColumn):
    """Items a second, on average since the bar began."""

    def render(self, task: Task) -> Text:
        rate = _rate(task)
        return Text("? items/s" if rate is None else f"{rate:,.1f} items/s", style="progress.data.speed")


class TimeLeft(ProgressColumn):
    """`eta` the time left at that rate; once done, `took` the time it took."""

    def render(self, task: Task) -> Text:
        if task.finished and task.finished_time is not None:
            return Text(f"took {_clock(task.finished_time)}", style="progress.elapsed")
        rate = _rate(task)
        left = None if rate is None or task.total is None else (task.total - task.completed) / rate
        return Text(f"eta {'-:--:--' if left is None else _clock(left)}", style="progress.remaining")
