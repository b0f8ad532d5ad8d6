"""Progress for a person at a terminal and for a log file.

On a terminal, long work shows tqdm bars. Without one (output piped to a file, a cluster job's
log), there are no bars, so no carriage returns or escape codes: `say` prints one plain line per
stage start, end or skip, and `note` one line per step that a bar would have shown. `--quiet`
silences both; results are printed by the callers whatever the flags.
"""
import sys
import time

from tqdm import tqdm

_bars = {'allowed': True}


def on_terminal() -> bool:
    return _bars['allowed'] and sys.stderr.isatty()


def allow_bars(allowed: bool) -> None:
    """Turn bars off for this process (e.g. a worker of several that share one terminal)."""
    _bars['allowed'] = allowed


def progress_bar(total=None, desc='', unit='it', quiet=False, leave=True, initial=0, iterable=None):
    """A tqdm bar (over `iterable` when given) on a terminal, a silent stand-in otherwise (same methods)."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, initial=initial,
                disable=quiet or not on_terminal())


def say(message: str, quiet: bool = False) -> None:
    """One time-stamped line on stdout (above any bar), unless quiet."""
    if not quiet:
        tqdm.write(f'{time.strftime("%H:%M:%S")} {message}', file=sys.stdout)
        sys.stdout.flush()


def note(message: str, quiet: bool = False) -> None:
    """Like `say`, but only where there are no bars: the step lines of a log file."""
    if not on_terminal():
        say(message, quiet)


class Stage:
    """Lines for one stage: `Stage(label, quiet)` says it started; `.done(detail)` says it ended
    and how long it took; `Stage.skipped(label, quiet)` says it was done before."""

    def __init__(self, label: str, quiet: bool = False):
        self.label, self.quiet = label, quiet
        self.began = time.perf_counter()
        say(f'{label}: started', quiet)

    def done(self, detail: str = '') -> float:
        seconds = time.perf_counter() - self.began
        say(f'{self.label}: done in {seconds:.1f} s{", " + detail if detail else ""}', self.quiet)
        return seconds

    @staticmethod
    def skipped(label: str, quiet: bool = False) -> None:
        say(f'{label}: skipped, done before with the same inputs and settings', quiet)
