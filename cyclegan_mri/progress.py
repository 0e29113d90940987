"""Progress of a long loop that reads well both on a terminal and in a log file.

On a terminal (stdout a TTY) a Keras progress bar redraws one line in place. In a log (stdout a file or a
pipe) every redraw would be a line of its own, or thousands of updates on one line: 1,764 of them for a
240x240x155 volume in 32^3 windows. There the title is printed, then one line at about each quarter of the
work, with the count done and the seconds elapsed, as ``train.py --verbose 2`` logs one line per epoch.
"""

from __future__ import annotations

import sys
import time

#: Lines printed after the title when stdout is not a terminal: one at about each quarter of the work.
LOG_STEPS = 4


def _is_terminal() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class Progress:
    """Counts ``total`` units (windows, slices) of work: ``add(n)`` after each batch of ``n``.

    ``live`` chooses the terminal bar (True) or the few log lines (False); by default it follows whether
    stdout is a terminal.
    """

    def __init__(self, title: str, total: int, unit: str, live: bool | None = None):
        self.total, self.unit, self.done = int(total), unit, 0
        self.live = _is_terminal() if live is None else live
        self.start = time.perf_counter()
        self.next_line = 1  # the next quarter (of LOG_STEPS) to report in a log
        print(title, flush=True)
        self.bar = None
        if self.live:
            import keras  # only a terminal needs it

            self.bar = keras.utils.Progbar(self.total, unit_name=unit)

    def add(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.add(count)
            return
        # Several quarters may pass in one batch (a few large windows): one line says them all.
        reached = self.done * LOG_STEPS // max(self.total, 1)
        if reached >= self.next_line:
            self.next_line = reached + 1
            elapsed = time.perf_counter() - self.start
            print(f"  {self.done}/{self.total} {self.unit}s, {elapsed:.0f} s", flush=True)
