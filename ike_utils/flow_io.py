"""The one Middlebury .flo reader and writer of the project, and the IKE flow-file naming."""
from pathlib import Path

import numpy as np

from ike_utils.atomic import atomic_file
from ike_utils.errors import InputError

FLO_MAGIC = np.float32(202021.25)
_HEADER_BYTES = 12


def flow_file_name(index: int) -> str:
    """Name of the flow between frames `index` and `index + 1` (both fwd_of and bwd_of use it)."""
    return '%05d_%05d.flo' % (index, index + 1)


def _check_header(path, header: bytes, file_bytes: int):
    """(height, width) from a .flo header; an InputError if the header or the file size is wrong."""
    if len(header) < _HEADER_BYTES:
        raise InputError(f'flow file {path} is truncated ({file_bytes} bytes); extract the flow again')
    magic = np.frombuffer(header, np.float32, count=1, offset=0)[0]
    if magic != FLO_MAGIC:
        raise InputError(f'flow file {path} has magic number {magic!r}, not 202021.25: not a Middlebury .flo file')
    width, height = (int(v) for v in np.frombuffer(header, np.int32, count=2, offset=4))
    if width <= 0 or height <= 0 or width > 100000 or height > 100000:
        raise InputError(f'flow file {path} declares an impossible size {width}x{height}; extract the flow again')
    expected = _HEADER_BYTES + 4 * 2 * width * height
    if file_bytes < expected:
        raise InputError(f'flow file {path} is truncated ({file_bytes} of {expected} bytes); extract the flow again')
    return height, width


def _read_bytes(path, count=None) -> bytes:
    try:
        with open(path, 'rb') as handle:
            return handle.read() if count is None else handle.read(count)
    except FileNotFoundError:
        raise InputError(f'flow file {path} is missing; run extract_optical_flow.py on these frames') from None
    except OSError as error:
        raise InputError(f'flow file {path} cannot be read ({error.strerror}); check its permissions') from None


def check_flo(path):
    """Validate a .flo file from its header and size alone (cheap); returns its (height, width)."""
    path = Path(path)
    return _check_header(path, _read_bytes(path, _HEADER_BYTES), path.stat().st_size)


def read_flo(path) -> np.ndarray:
    """Read a .flo file into an H x W x 2 float32 array (u, v). Bad files raise InputError."""
    raw = _read_bytes(path)
    height, width = _check_header(path, raw[:_HEADER_BYTES], len(raw))
    data = np.frombuffer(raw, np.float32, count=2 * width * height, offset=_HEADER_BYTES)
    return data.reshape(height, width, 2).copy()


def write_flo(path, flow) -> None:
    """Write an H x W x 2 flow (u, v) as a .flo file, atomically (temporary file, then rename)."""
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f'flow must be H x W x 2, got shape {flow.shape}')
    height, width = flow.shape[:2]
    header = FLO_MAGIC.tobytes() + np.array([width, height], dtype=np.int32).tobytes()
    with atomic_file(path) as tmp:
        with open(tmp, 'wb') as handle:
            handle.write(header)
            handle.write(np.ascontiguousarray(flow).tobytes())
