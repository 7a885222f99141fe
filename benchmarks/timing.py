"""What every benchmark here reports the same way: percentiles, a one-line summary, the
machine and its load (a timing on a shared machine means little without the load beside it).
One home for them, imported by the benchmarks instead of copied into each."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def summary(values: list[float], digits: int = 0, unit: str = "ms") -> str:
    """'p50 12 ms, p95 30 ms (n=20)'."""
    if not values:
        return "no samples"
    return (f"p50 {statistics.median(values):.{digits}f} {unit}, "
            f"p95 {pct(values, 0.95):.{digits}f} {unit} (n={len(values)})")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def load() -> str:
    """The 1, 5 and 15-minute load averages, as /proc/loadavg has them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"
