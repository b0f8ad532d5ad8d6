"""Shared command-line plumbing: common flags and the error-to-exit-status convention."""
import argparse
import errno
import sys
import warnings

from ike_utils import threads  # first: waiting threads must yield before torch is loaded
from ike_utils.errors import InputError

EXIT_BAD_INPUT = 2
# write failures that are the machine's state, not a bug: read-only, full or forbidden
WRITE_ERRORS = {errno.EROFS: 'the file system is read-only', errno.ENOSPC: 'the disk is full',
                errno.EDQUOT: 'the disk quota is exceeded', errno.EACCES: 'permission denied'}


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


TORCH_WRITE_ERRORS = ('PytorchStreamWriter failed', 'file write failed', 'cannot be opened')


def _write_failed(what: str):
    print(f'error: {what}; free some space or choose another output folder, then rerun (finished stages '
          f'are kept)', file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


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
    except OSError as error:
        if error.errno not in WRITE_ERRORS:
            raise
        where = f' {error.filename}' if error.filename else ''
        _write_failed(f'cannot write{where}: {WRITE_ERRORS[error.errno]}')
    except RuntimeError as error:  # torch.save reports a failed write so
        if not any(sign in str(error) for sign in TORCH_WRITE_ERRORS):
            raise
        _write_failed(f'cannot write a file ({str(error).splitlines()[0]}): the disk is full or read-only')
    except KeyboardInterrupt:
        print('interrupted: finished outputs are kept, a rerun redoes the rest', file=sys.stderr)
        sys.exit(130)
    return result
