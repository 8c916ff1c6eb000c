"""``search ingest --every``: run again on a schedule until told to stop."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Callable

from search.errors import SangamError

logger = logging.getLogger(__name__)

_INTERVAL = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)?\s*", re.IGNORECASE)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """Seconds in ``15m``, ``1h``, ``90s`` (a bare number is minutes)."""
    match = _INTERVAL.fullmatch(text or "")
    seconds = float(match.group(1)) * _UNIT[(match.group(2) or "m").lower()] if match else 0.0
    if seconds < 1:
        raise SangamError(f"--every {text!r} is not an interval", "write it like 15m, 1h or 90s")
    return seconds


def repeat(run_once: Callable[[], object], seconds: float, stop: threading.Event,
           clock: Callable[[], float] = time.monotonic) -> int:
    """Call ``run_once`` now and then every ``seconds`` (from the start of one run to the start of the
    next) until ``stop`` is set; return how many runs there were. A run is never cut short by the
    schedule: ``stop`` is looked at between runs (and by the run itself, between pages)."""
    runs = 0
    while not stop.is_set():
        started = clock()
        run_once()
        runs += 1
        wait = max(0.0, seconds - (clock() - started))
        if stop.is_set():
            break
        logger.info("next run in %.0fs (Ctrl-C or SIGTERM to stop)", wait)
        if stop.wait(wait):
            break
    return runs
