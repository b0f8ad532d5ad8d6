"""Keeping the resident memory close to what is alive."""
import ctypes
import sys

_libc = None
if sys.platform.startswith('linux'):
    try:
        _libc = ctypes.CDLL('libc.so.6')
    except OSError:  # not glibc (e.g. musl): nothing to do
        _libc = None


def release_free_memory() -> None:
    """Return freed heap memory to the operating system (glibc's malloc_trim).

    Many short-lived temporaries of a few MB leave free but resident holes in the C heap; after a
    phase that made them, this lowers the resident size to what is really in use."""
    if _libc is not None and hasattr(_libc, 'malloc_trim'):
        _libc.malloc_trim(0)
