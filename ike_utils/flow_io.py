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


def read_flo(path) -> np.ndarray:
    """Read a .flo file into an H x W x 2 float32 array (u, v). Bad files raise InputError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f'flow file {path} is missing; run extract_optical_flow.py on these frames') from None
    except OSError as error:
        raise InputError(f'flow file {path} cannot be read ({error.strerror}); check its permissions') from None
    if len(raw) < _HEADER_BYTES:
        raise InputError(f'flow file {path} is truncated ({len(raw)} bytes); extract the flow again')
    magic = np.frombuffer(raw, np.float32, count=1, offset=0)[0]
    if magic != FLO_MAGIC:
        raise InputError(f'flow file {path} has magic number {magic!r}, not 202021.25: not a Middlebury .flo file')
    width, height = (int(v) for v in np.frombuffer(raw, np.int32, count=2, offset=4))
    if width <= 0 or height <= 0 or width > 100000 or height > 100000:
        raise InputError(f'flow file {path} declares an impossible size {width}x{height}; extract the flow again')
    expected = _HEADER_BYTES + 4 * 2 * width * height
    if len(raw) < expected:
        raise InputError(f'flow file {path} is truncated ({len(raw)} of {expected} bytes); extract the flow again')
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
