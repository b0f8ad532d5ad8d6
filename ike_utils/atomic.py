"""Atomic outputs: write into a temporary sibling, then rename, so nothing half-written looks complete."""
import contextlib
import os
import shutil
from pathlib import Path


def _temporary_sibling(path: Path) -> Path:
    """A hidden name in the same folder (same file system, so the rename is atomic); keeps the suffix
    so that writers choosing the format from the extension (cv2.imwrite) still work."""
    return path.with_name(f'.{path.stem}.tmp-{os.getpid()}{path.suffix}')


def _named(error: BaseException, path: Path) -> BaseException:
    """`error`, or for an OSError that names no file (a write to an open file), the same naming `path`."""
    if isinstance(error, OSError) and error.errno and not error.filename:
        return OSError(error.errno, error.strerror, str(path))
    return error


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary folder; on success it replaces `path` (whole), on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        named = _named(error, path)
        if named is error:
            raise
        raise named from error
    if path.exists():
        old = path.with_name(f'.{path.name}.old-{os.getpid()}')
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_file(path):
    """Yield a temporary file path next to `path`; on success it is renamed onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(path)
    try:
        yield tmp
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        named = _named(error, path)
        if named is error:
            raise
        raise named from error
    os.replace(tmp, path)
