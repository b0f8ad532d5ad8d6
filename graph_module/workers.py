"""Running a few independent pieces of work on the CPU's cores (PyTorch's own ops run a single
core for the index operations the graph module lives on)."""
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache

import torch

_workers = None  # while ops_on_one_thread is active: the thread count from before it


def worker_threads(device) -> int:
    """How many pieces of work to run at once: torch's thread count on the CPU, 1 on a GPU."""
    if torch.device(device).type != 'cpu':
        return 1
    return _workers or torch.get_num_threads()


@contextmanager
def ops_on_one_thread():
    """Within: every torch op runs on one thread, and the graph's own workers (worker_threads,
    run_all) use the threads torch had. Waiting threads sleep (ike_utils.threads), so waking a
    second thread for each of the graph's many small ops costs more than it gains: on 50 frames an
    iteration took about 15% longer, and the node features twice as long (README, Speed and memory)."""
    global _workers
    threads = torch.get_num_threads()
    previous, _workers = _workers, _workers or threads
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        _workers = previous


@lru_cache(maxsize=None)
def _pool(n_threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(n_threads, thread_name_prefix='ike-graph')


def run_all(function, items, n_threads: int):
    """[function(item) for item in items], on up to n_threads threads."""
    items = list(items)
    if n_threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    return list(_pool(min(n_threads, len(items))).map(function, items))
