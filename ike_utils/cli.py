"""Shared command-line plumbing: common flags and the error-to-exit-status convention."""
import argparse
import errno
import sys
import warnings

from ike_utils.errors import InputError

EXIT_BAD_INPUT = 2
# write failures that are the machine's state, not a bug: read-only, full or forbidden
WRITE_ERRORS = {errno.EROFS: 'the file system is read-only', errno.ENOSPC: 'the disk is full',
                errno.EDQUOT: 'the disk quota is exceeded', errno.EACCES: 'permission denied'}


def add_common_args(parser: argparse.ArgumentParser):
    """Flags every stage accepts."""
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'],
                        help='where to compute; auto = CUDA when available (default: auto)')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')


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
        print(f'error: cannot write{where}: {WRITE_ERRORS[error.errno]}; free some space or choose another '
              f'output folder, then rerun (finished stages are kept)', file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print('interrupted: finished outputs are kept, a rerun redoes the rest', file=sys.stderr)
        sys.exit(130)
    return result
