"""How many CPU threads to use, and waiting threads that yield their core.

PyTorch starts one compute thread per core of the machine, and its OpenMP threads spin while they
wait for work. On a machine shared with other jobs, or in a cluster job given a few cores of a big
node, that oversubscribes the cores and a run slows down many times. So the thread count comes from
the CPUs this process may use: its CPU affinity, its cgroup CPU quota, and SLURM_CPUS_PER_TASK,
whichever is smallest, shared among the worker processes. Waiting OpenMP threads sleep instead of
spinning (OMP_WAIT_POLICY=PASSIVE), which must be set before torch is imported: importing this
module does it, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT already say how threads should wait.
"""
import math
import os
from pathlib import Path

if 'OMP_WAIT_POLICY' not in os.environ and 'GOMP_SPINCOUNT' not in os.environ:
    os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'

CGROUP_V2_QUOTA = Path('/sys/fs/cgroup/cpu.max')
CGROUP_V1_QUOTA = (Path('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), Path('/sys/fs/cgroup/cpu/cpu.cfs_period_us'))


def _cgroup_cpus():
    """The cgroup CPU quota in whole CPUs (rounded up), or None when there is no quota."""
    try:
        quota, period = CGROUP_V2_QUOTA.read_text().split()[:2]
        if quota != 'max':
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota, period = (int(path.read_text()) for path in CGROUP_V1_QUOTA)
        return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def _slurm_cpus():
    try:
        return max(1, int(os.environ['SLURM_CPUS_PER_TASK']))
    except (KeyError, ValueError):
        return None


def available_cpus() -> int:
    """CPUs this process may use: the smallest of its affinity, its cgroup quota and Slurm's
    --cpus-per-task (those that apply)."""
    try:
        counts = [len(os.sched_getaffinity(0))]
    except AttributeError:  # not on Linux
        counts = [os.cpu_count() or 1]
    counts += [count for count in (_cgroup_cpus(), _slurm_cpus()) if count]
    return max(1, min(counts))


def threads_per_worker(workers: int = 1, total=None) -> int:
    """Compute threads for each of `workers` processes: an equal share (at least 1) of `total`
    CPUs when given, else of the available CPUs, and then no more than OMP_NUM_THREADS when set."""
    share = max(1, (total or available_cpus()) // max(1, workers))
    if total is None:
        try:
            share = min(share, max(1, int(os.environ['OMP_NUM_THREADS'])))
        except (KeyError, ValueError):
            pass
    return share


def use_threads(count: int) -> int:
    """Make PyTorch and OpenCV use `count` threads in this process; returns it."""
    import cv2
    import torch
    torch.set_num_threads(count)
    cv2.setNumThreads(count)
    return count
