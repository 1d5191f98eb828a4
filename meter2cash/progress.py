"""A progress bar for long command-line jobs, on standard error and only when it is a terminal."""
from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, label: str, stream=None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self.shown = False
        self.closed = False

    def update(self, done: int, total: int) -> None:
        if self.closed or not self.stream.isatty() or total <= 0:
            return
        share = min(done / total, 1.0)
        filled = int(share * self.width)
        rate = done / max(time.monotonic() - self.started, 1e-9)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{done:,}/{total:,} {share:4.0%} {rate:,.0f}/s")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        self.closed = True
        if self.shown:
            self.shown = False
            self.stream.write("\n")
            self.stream.flush()
