"""Shared command-line plumbing: common flags and the error-to-exit-status convention."""
import argparse
import sys
import warnings

from ike_utils import threads  # first: waiting threads must yield before torch is loaded
from ike_utils.errors import InputError

EXIT_BAD_INPUT = 2


def add_common_args(parser: argparse.ArgumentParser):
    """Flags every stage accepts."""
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'],
                        help='where to compute; auto = CUDA when available (default: auto)')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress bars or stage lines; where the results are is still printed')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads in all (run_ike.py shares them among --workers); default: the CPUs this '
                             'process may use (its affinity, cgroup quota or SLURM_CPUS_PER_TASK), at most '
                             'OMP_NUM_THREADS when that is set')


def use_cpu_threads(args, workers: int = 1) -> int:
    """Set this process's thread count from --threads or the CPUs it may use, shared by `workers`
    processes; returns the count for each."""
    if args.threads is not None and args.threads < 1:
        raise InputError(f'--threads {args.threads} is not valid; give 1 or more, or leave it out')
    return threads.use_threads(threads.threads_per_worker(workers, args.threads))


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    return f'warning: {message}\n'


def run_cli(main, *args, **kwargs):
    """Call `main`; bad input becomes a one-line message on stderr and exit status 2."""
    warnings.formatwarning = _one_line_warning
    try:
        result = main(*args, **kwargs)
    except InputError as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print('interrupted: finished outputs are kept, a rerun redoes the rest', file=sys.stderr)
        sys.exit(130)
    return result
