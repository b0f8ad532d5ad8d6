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
