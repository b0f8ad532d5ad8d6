"""Shared command-line plumbing: the argument parser, common flags and the error-to-exit-status
convention."""
import argparse
import difflib
import errno
import sys
import warnings

from ike_utils import threads  # first: waiting threads must yield before torch is loaded
from ike_utils.errors import InputError

EXIT_BAD_INPUT = 2
# write failures that are the machine's state, not a bug: read-only, full or forbidden
WRITE_ERRORS = {errno.EROFS: 'the file system is read-only', errno.ENOSPC: 'the disk is full',
                errno.EDQUOT: 'the disk quota is exceeded', errno.EACCES: 'permission denied'}


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose errors are one line, 'error: ...' naming the flag and the fix, and exit
    status 2 (argparse's own print its usage block first). The description is shown as written."""

    def __init__(self, **kwargs):
        super().__init__(formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def error(self, message):
        print(f'error: {self._with_fix(message)}', file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)

    def _with_fix(self, message: str) -> str:
        see = f'python {self.prog} --help lists every flag'
        if message.startswith('unrecognized arguments: '):
            flag = next((word for word in message.split()[2:] if word.startswith('-')), None)
            if flag is None:
                return f'{message}; every value belongs to a flag ({see})'
            close = difflib.get_close_matches(flag.split('=')[0], list(self._option_string_actions), n=1)
            return f'unknown flag {flag}; ' + (f'did you mean {close[0]}?' if close else see)
        fixes = (('the following arguments are required', 'give them'), ('one of the arguments', 'give one'),
                 ('not allowed with argument', 'give only one of the two'), ('expected one argument', 'give it a value'),
                 ('ambiguous option', 'spell the flag out'), ('invalid int value', 'give a whole number'),
                 ('invalid float value', 'give a number'), ('invalid choice', None), ('is not valid', None))
        fix = next((fix for sign, fix in fixes if sign in message), 'fix its value')
        if message.startswith('argument '):  # 'argument --cycles: 0 is not valid' -> '--cycles 0 is not valid'
            flag, rest = message[len('argument '):].split(': ', 1)
            message = f'{flag} {rest}' if 'is not valid' in rest else f'{flag}: {rest}'
            message = message.replace(': not allowed with argument ', ' is not allowed with ')
        return f'{message}; {fix} ({see})' if fix else message


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not valid; give a whole number, 1 or more') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text} is not valid; give 1 or more')
    return value


def add_common_args(parser: argparse.ArgumentParser):
    """Flags every stage accepts."""
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'],
                        help='where to compute; auto = CUDA when available (default: auto)')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress bars or stage lines; where the results are is still printed')
    parser.add_argument('--threads', type=positive_int, default=None,
                        help='CPU threads in all (run_ike.py shares them among --workers); default: the CPUs this '
                             'process may use (its affinity, cgroup quota or SLURM_CPUS_PER_TASK), at most '
                             'OMP_NUM_THREADS when that is set')


def use_cpu_threads(args, workers: int = 1) -> int:
    """Set this process's thread count from --threads or the CPUs it may use, shared by `workers`
    processes; returns the count for each."""
    return threads.use_threads(threads.threads_per_worker(workers, args.threads))


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
    except KeyboardInterrupt:
        print('interrupted: finished outputs are kept, a rerun redoes the rest', file=sys.stderr)
        sys.exit(130)
    return result
