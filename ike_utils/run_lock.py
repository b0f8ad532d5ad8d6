"""One run at a time per output folder: an advisory lock (flock) on FOLDER/.ike.lock.

The lock file holds the PID of its holder. The kernel releases the lock when that process ends,
however it ends (even SIGKILL), so the lock of a dead process is simply taken over. A second run
on the same folder gets an InputError naming the holder."""
import contextlib
import fcntl
import os
from pathlib import Path

from ike_utils.errors import InputError

LOCK_NAME = '.ike.lock'
_held = {}  # resolved folder -> number of nested holds in this process


def check_out_folder(folder, flag: str = '--out_path') -> Path:
    """`folder` as a Path, created if needed; an InputError if it is a file or cannot be written."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f'{flag} {folder} is a file, not a folder; pass a folder (it is created if missing)')
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f'{flag} {folder} cannot be created ({error.strerror}); choose a writable folder') from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f'{flag} {folder} is not writable; choose a writable folder')
    return folder


def check_out_file(path, flag: str):
    """An InputError if output file `path` is a folder or its folder cannot be made (checked before work)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f'{flag} {path} is a folder; pass a file name, e.g. {path / ("scores." + flag.lstrip("-"))}')
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f'{flag} {path}: {parent} is a file, not a folder; choose another path')
            break
    return path


def _open_locked(path: Path):
    """An open file holding the lock on `path`, or raise BlockingIOError (held by another process)."""
    while True:
        handle = open(path, 'a+')
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise
        try:  # the holder before us may have removed the file after we opened it: lock the new one
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or 'unknown'
    except OSError:
        return 'unknown'


@contextlib.contextmanager
def folder_lock(folder, flag: str = '--out_path'):
    """Hold the lock of `folder` (created if missing, and removed again if left empty) for the
    duration of the block; re-entrant within one process. Another live process holding it is an
    InputError naming its PID."""
    created = not Path(folder).exists()
    folder = check_out_folder(folder, flag)
    key = folder.resolve()
    if _held.get(key):
        _held[key] += 1
        try:
            yield folder
        finally:
            _held[key] -= 1
        return
    path = folder / LOCK_NAME
    try:
        handle = _open_locked(path)
    except BlockingIOError:
        raise InputError(f'{flag} {folder} is in use by another IKE run (process {_holder(path)}); wait for it '
                         f'to end, or choose another {flag}') from None
    except OSError as error:
        raise InputError(f'{flag} {folder} cannot be locked ({error.strerror}); choose a writable folder') from None
    try:
        handle.truncate(0)
        try:  # unbuffered: a full disk fails here, not again when the file is closed
            os.write(handle.fileno(), f'{os.getpid()}\n'.encode())
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(path)) from error
        _held[key] = 1
        yield folder
    finally:
        _held.pop(key, None)
        path.unlink(missing_ok=True)
        handle.close()
        if created and not any(folder.iterdir()):  # nothing was written: leave no trace
            folder.rmdir()
