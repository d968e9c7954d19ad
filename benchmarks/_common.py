"""Helpers shared by the benchmark scripts: timing and environment facts."""

import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def timed(fn, repeats):
    """Runs `fn` `repeats` times; returns (median seconds, last result)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def environment():
    """One line describing the machine, for RESULTS.md."""
    import tensorflow as tf

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    return (f"python {platform.python_version()}, tensorflow {tf.__version__}, "
            f"{os.cpu_count()} CPU cores, devices {devices}")
