"""course-pipeline sync draws a progress bar per vendor (items done of total, rate, time left) on a terminal,
and nothing of it when its output is not one (a pipe, a file, CI, these tests' captured output)."""

from __future__ import annotations

import io
import re

import pytest
from fake_clock import FakeClock
from rich.console import Console

from course_pipeline import cli
from course_pipeline.cli import main
from course_pipeline.progress import Bars, ProgressEvent, listening

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def home(env, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return env


def test_sync_draws_a_bar_per_vendor_on_a_terminal(catalog, home, capsys, monkeypatch):
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=140, color_system=None)
    monkeypatch.setattr(cli, "_progress_console", lambda: terminal)
    events: list[ProgressEvent] = []
    with listening(events.append):
        assert main(["sync", str(catalog.write()), "--vendor", "kombo"]) == 0
    drawn = ANSI.sub("", screen.getvalue())
    # The last frame drawn: the bar complete, 30 of 30 (the tests' batches of 10), the rate, the time it took.
    final = [line for line in drawn.splitlines() if line.strip().startswith("kombo (shop)")][-1]
    assert re.search(r"kombo \(shop\) .* 30/30 +[\d,.]+ items/s +took \d:\d\d:\d\d", final), final
    running = [line for line in drawn.splitlines() if "kombo (shop)" in line and "/30 " in line and "30/30" not in line]
    assert all(re.search(r" [0-2]?\d/30 +(\?|[\d,.]+) items/s +eta (-:--:--|\d:\d\d:\d\d)", line) for line in running)
    # The start (0 of 30, before the first request), then each settled batch once, from the step's worker
    # threads (not necessarily in order).
    assert events[0] == ProgressEvent("kombo", "shop", 0, 30)
    assert sorted(e.done for e in events[1:]) == [10, 20, 30] and {(e.vendor, e.total) for e in events} == {
        ("kombo", 30)}
    out, err = capsys.readouterr()
    assert "items/s" not in out + err and "kombo" in out  # the counts table, printed after the bars, as before


def test_every_vendor_gets_its_own_bar(catalog, home, capsys, monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(cli, "_progress_console",
                        lambda: Console(file=screen, force_terminal=True, width=140, color_system=None))
    assert main(["sync", str(catalog.write())]) == 0
    drawn = ANSI.sub("", screen.getvalue())
    for vendor in ("highlevel", "kombo", "stackone", "thought_industries"):
        assert re.search(rf"{vendor} \(shop\) .* 30/30 +[\d,.]+ items/s +took \d:\d\d:\d\d", drawn), vendor
    capsys.readouterr()


def test_no_bar_when_the_output_is_not_a_terminal(catalog, home, capsys):
    assert cli._progress_console() is None  # capsys' stderr is no terminal
    assert main(["sync", str(catalog.write()), "--vendor", "kombo"]) == 0
    out, err = capsys.readouterr()
    assert "items/s" not in out + err and "eta " not in out + err and "━" not in out + err
    assert "\x1b[" not in out + err  # no control sequences either


def test_the_rate_and_the_time_left_follow_the_clock(catalog, home, capsys, monkeypatch):
    """On a clock the test moves (a second for each event, before the bar sees it), one Kombo worker sending
    three batches of 10: each frame says exactly how far, how fast and how long still."""
    monkeypatch.setenv("KOMBO_WORKERS", "1")  # the batches settle in order
    clock, made, frames = FakeClock(0.0), [], []
    screen = Console(file=io.StringIO(), force_terminal=True, width=140, color_system=None)

    def bars() -> Bars:
        made.append(Bars(screen, get_time=clock))
        return made[-1]

    def tick(event: ProgressEvent) -> None:  # registered first: runs before the bar takes the event
        if made and made[0].progress.tasks:
            frames.append(render(made[0]))
        clock.advance(1.0)

    monkeypatch.setattr(cli, "_progress_bars", bars)
    with listening(tick):
        assert main(["sync", str(catalog.write()), "--vendor", "kombo"]) == 0
    frames.append(render(made[0]))
    capsys.readouterr()
    assert [" ".join(re.search(r"\d+/30 .*", frame)[0].split()) for frame in frames] == [  # after the bar
        "0/30 ? items/s eta -:--:--",
        "10/30 10.0 items/s eta 0:00:02",
        "20/30 10.0 items/s eta 0:00:01",
        "30/30 10.0 items/s took 0:00:03"]
    assert all(frame.startswith("kombo (shop) ") for frame in frames)


def render(bars: Bars) -> str:
    out = Console(file=io.StringIO(), width=140, color_system=None)
    out.print(bars.progress.get_renderable())
    return ANSI.sub("", out.file.getvalue()).strip()
