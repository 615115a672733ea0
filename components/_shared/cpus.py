"""How many CPUs this process may use: the one answer for every step that runs work in parallel processes
(ingest's chunk workers, the statistics step's splits).

Not ``os.cpu_count()`` (the machine's): the process's CPU affinity (``os.sched_getaffinity``: what a cpuset or
``taskset`` allows), capped by a cgroup CPU quota (a container's CPU limit, e.g. a Kubernetes ``limits.cpu``, which
affinity does not show), rounded up; at least 1.
"""

from __future__ import annotations

import math
import os


def available_cpus() -> int:
    """CPUs this process may use: its affinity (``os.sched_getaffinity``), capped by a cgroup v2/v1 CPU quota
    (a container's CPU limit, which affinity does not show), at least 1; 1 in a daemonic process (a
    ``multiprocessing`` worker), which may not start processes of its own."""
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, math.ceil(quota)) if quota else cpus)


def _cgroup_cpu_quota() -> float | None:
    """CPUs allowed by the cgroup's CFS quota (``cpu.max`` or ``cpu.cfs_quota_us``/``cpu.cfs_period_us``)."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f, open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as g:
            quota_us, period_us = int(f.read()), int(g.read())
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None
