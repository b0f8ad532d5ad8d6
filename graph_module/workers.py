"""Running a few independent pieces of work on the CPU's cores (PyTorch's own ops run a single
core for the index operations the graph module lives on)."""
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import torch


def worker_threads(device) -> int:
    """How many pieces of work to run at once: torch's thread count on the CPU, 1 on a GPU."""
    return torch.get_num_threads() if torch.device(device).type == 'cpu' else 1


@lru_cache(maxsize=None)
def _pool(n_threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(n_threads, thread_name_prefix='ike-graph')


def run_all(function, items, n_threads: int):
    """[function(item) for item in items], on up to n_threads threads."""
    items = list(items)
    if n_threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    return list(_pool(min(n_threads, len(items))).map(function, items))
