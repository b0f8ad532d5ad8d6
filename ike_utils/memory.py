"""Memory hints to the operating system: give freed heap memory back, and back buffers that are
accessed at scattered places with 2 MB pages."""
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


MADV_HUGEPAGE = 14  # linux/mman.h
HUGE_PAGE = 2 << 20


def advise_huge_pages(tensor) -> bool:
    """Ask Linux to back a large CPU tensor with 2 MB pages (madvise MADV_HUGEPAGE), before it is
    first written. Worth it for tensors read or written at scattered places: with 4 kB pages, every
    such access risks a miss in the address-translation cache. Returns whether the advice was taken
    (never on other systems, for CUDA tensors, or for a tensor without a whole aligned 2 MB page)."""
    if _libc is None or tensor.device.type != 'cpu':
        return False
    start = tensor.data_ptr()
    end = start + tensor.numel() * tensor.element_size()
    aligned_start = (start + HUGE_PAGE - 1) // HUGE_PAGE * HUGE_PAGE
    aligned_end = end // HUGE_PAGE * HUGE_PAGE
    if aligned_end - aligned_start < HUGE_PAGE:
        return False
    _libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    return _libc.madvise(ctypes.c_void_p(aligned_start), ctypes.c_size_t(aligned_end - aligned_start),
                         MADV_HUGEPAGE) == 0
