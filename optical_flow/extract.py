"""The flow stage: forward and backward optical flow of every consecutive frame pair of a video.

Writes `out_path/fwd_of/%05d_%05d.flo` (frame i -> i+1) and `out_path/bwd_of/%05d_%05d.flo`
(frame i+1 -> i) at frame size (RAFT with `keep_padding`: at the padded size, as the reference),
as IKE's graph module reads them; with `save_viz`, colour-coded
images of both in `fwd_of_viz/` and `bwd_of_viz/`.

Skipping and resuming follow the stage contract (ike_utils.stage): the inputs are the frames
(their content), the settings are the method, its iterations, the checkpoint's content hash and
the padding. A finished stage of the same inputs and settings is skipped; an interrupted one of the
same inputs and settings keeps the pairs whose two .flo files are complete; anything else first
deletes every flow file of the folder (`%05d_%05d.flo` / `.png`), then computes every pair.
"""
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from ike_utils.device import resolve_device
from ike_utils.errors import InputError
from ike_utils.flow_io import flow_file_name, read_flo, write_flo
from ike_utils.frames import check_jpeg_end, list_frames, read_frame_bgr
from ike_utils.images import write_image
from ike_utils.progress import progress_bar
from ike_utils.stage import Stage, run_stage
from optical_flow.classic import ClassicFlow
from optical_flow.visualize import flow_to_color

METHODS = ('raft', 'dis', 'farneback')
DIRECTIONS = ('fwd_of', 'bwd_of')
CUDA_PAIRS_PER_BATCH = 4


@dataclass
class FlowExtractionSummary:
    """What a call of `extract_flows` did."""
    pairs: int
    computed: int
    skipped: int
    seconds: float
    method: str


def check_frames(frames_path):
    """The frame files (at least two) and their common (height, width), read from the image headers
    only, so each frame is decoded once, later. Unreadable or differently sized frames are InputErrors."""
    files = list_frames(frames_path, min_count=2)
    size = None
    for path in files:
        check_jpeg_end(path)
        try:
            with Image.open(path) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError):
            raise InputError(f'frame {path} cannot be read as an image; replace or remove it') from None
        if size is None:
            size = (height, width)
        elif (height, width) != size:
            raise InputError(f'frame {path} is {width}x{height} but {files[0]} is {size[1]}x{size[0]}; '
                             f'all frames of a video must have the same size')
    return files, size


def _read_frame(path, size):
    frame = read_frame_bgr(path)
    if frame.shape[:2] != size:
        raise InputError(f'frame {path} decodes to {frame.shape[1]}x{frame.shape[0]}, not the '
                         f'{size[1]}x{size[0]} of the other frames; all frames must have the same size')
    return frame


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _is_complete_flo(path: Path, size) -> bool:
    """An existing .flo of the expected size (writes are atomic, so this is a finished file)."""
    try:
        with open(path, 'rb') as handle:
            header = handle.read(12)
        length = path.stat().st_size
    except OSError:
        return False
    height, width = size
    expected = (b'PIEH' + int(width).to_bytes(4, 'little') + int(height).to_bytes(4, 'little'))
    return header == expected and length == 12 + 8 * width * height


def _clear_old_outputs(out_path: Path):
    """Delete flow files of earlier settings, so they are never mistaken for ours."""
    for folder in DIRECTIONS + tuple(f'{d}_viz' for d in DIRECTIONS):
        for pattern in ('[0-9][0-9][0-9][0-9][0-9]_[0-9][0-9][0-9][0-9][0-9].flo',
                        '[0-9][0-9][0-9][0-9][0-9]_[0-9][0-9][0-9][0-9][0-9].png'):
            for path in (out_path / folder).glob(pattern):
                path.unlink()


def _make_estimator(method, checkpoint, iters, frame_size, device, keep_padding):
    """The flow estimator and its settings record; loads the RAFT weights (InputError if unusable)."""
    if method not in METHODS:
        raise InputError(f'unknown flow method {method!r}; use one of {", ".join(METHODS)}')
    if method != 'raft':
        if keep_padding:
            raise InputError(f'--keep_padding applies to --method raft only (there is no padding in {method})')
        return ClassicFlow(method, frame_size), {'method': method}
    from RAFT.checkpoint import load_raft, DOWNLOAD_HINT
    from optical_flow.raft_flow import RaftFlow
    if checkpoint is None:
        raise InputError(f'--method raft needs a checkpoint (--models); {DOWNLOAD_HINT}')
    if iters < 1:
        raise InputError(f'--iters {iters} is not valid; RAFT needs at least 1 refinement iteration (default 20)')
    model, variant = load_raft(checkpoint, device)
    estimator = RaftFlow(model, iters, frame_size, device, keep_padding=keep_padding)
    return estimator, {'method': 'raft', 'model': variant, 'iters': iters, 'keep_padding': keep_padding,
                       'checkpoint_sha256': _file_sha256(Path(checkpoint))}


def _batches(indices, batch_pairs):
    """Split sorted pair indices into runs of consecutive indices of at most `batch_pairs`."""
    batch = []
    for index in indices:
        if batch and (index != batch[-1] + 1 or len(batch) == batch_pairs):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def extract_flows(frames_path, out_path, method='dis', checkpoint=None, iters=20, device='auto',
                  save_viz=False, quiet=False, batch_pairs=None, keep_padding=False,
                  before_redo=None) -> FlowExtractionSummary:
    """Compute the forward and backward flows of every consecutive frame pair (see the module doc).

    method: 'raft' (needs `checkpoint`, an original princeton-vl/RAFT or torchvision state dict),
    'dis' or 'farneback' (no weights). device: 'auto' | 'cpu' | 'cuda' or a torch.device.
    batch_pairs: RAFT pairs per forward pass (default 1 on CPU, 4 on CUDA).
    keep_padding: RAFT only; write flows at the padded size as the reference did, instead of
    cropping them to the frame size. before_redo: called when the stage is not skipped.
    """
    started = time.perf_counter()
    device = device if isinstance(device, torch.device) else resolve_device(device)
    files, frame_size = check_frames(frames_path)
    estimator, settings = _make_estimator(method, checkpoint, iters, frame_size, device, keep_padding)
    flow_size = estimator.output_size
    if batch_pairs is None:
        batch_pairs = CUDA_PAIRS_PER_BATCH if (method == 'raft' and device.type == 'cuda') else 1
    if batch_pairs < 1:
        raise ValueError(f'batch_pairs must be at least 1, got {batch_pairs}')

    out_path = Path(out_path)
    folders = {name: out_path / name for name in DIRECTIONS}
    viz_folders = {name: out_path / f'{name}_viz' for name in DIRECTIONS}
    pairs = len(files) - 1
    stage = flow_stage(files, out_path, settings)
    counts = {'computed': 0, 'skipped': pairs}

    def work(resume):
        if not resume:
            _clear_old_outputs(out_path)
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        todo = [index for index in range(pairs)
                if not all(_is_complete_flo(folders[d] / flow_file_name(index), flow_size) for d in DIRECTIONS)]
        counts.update(computed=len(todo), skipped=pairs - len(todo))
        _compute_pairs(estimator, files, frame_size, todo, folders, viz_folders if save_viz else None,
                       batch_pairs, method, pairs - len(todo), pairs, quiet)

    run_stage(stage, work, before_redo=before_redo)
    if save_viz:  # pairs computed earlier, maybe without --save_viz
        for direction in DIRECTIONS:
            viz_folders[direction].mkdir(parents=True, exist_ok=True)
            for index in range(pairs):
                name = flow_file_name(index)
                viz_path = viz_folders[direction] / name.replace('.flo', '.png')
                if not viz_path.exists():
                    write_image(viz_path, flow_to_color(read_flo(folders[direction] / name)))
    return FlowExtractionSummary(pairs=pairs, computed=counts['computed'], skipped=counts['skipped'],
                                 seconds=time.perf_counter() - started, method=method)


def flow_stage(files, out_path, settings: dict) -> Stage:
    """The flow stage's contract: frames in, one .flo per pair and direction out."""
    outputs = tuple(f'{direction}/{flow_file_name(index)}' for direction in DIRECTIONS
                    for index in range(len(files) - 1))
    return Stage('flow', Path(out_path), inputs={'frames': list(files)}, settings=settings, outputs=outputs,
                 content_inputs=('frames',))


def flow_folders(out_path):
    """The (forward, backward) .flo folders of a flow stage's folder."""
    return tuple(Path(out_path) / direction for direction in DIRECTIONS)


def _compute_pairs(estimator, files, frame_size, todo, folders, viz_folders, batch_pairs, method, done, pairs,
                   quiet):
    """Compute and write the flows of the pair indices `todo` (sorted)."""
    if viz_folders:
        for folder in viz_folders.values():
            folder.mkdir(parents=True, exist_ok=True)
    with progress_bar(total=pairs, initial=done, unit='pair', desc=f'flow ({method})', quiet=quiet) as progress:
        carried = None  # (frame index, prepared frame): the last frame of a batch starts the next one
        for batch in _batches(todo, batch_pairs):
            frame_indices = list(range(batch[0], batch[-1] + 2))
            prepared = []
            if carried is not None and carried[0] == frame_indices[0]:
                prepared.append(carried[1])
                frame_indices = frame_indices[1:]
            prepared += estimator.prepare([_read_frame(files[i], frame_size) for i in frame_indices])
            for index, flows in zip(batch, estimator.flow_pairs(prepared)):
                name = flow_file_name(index)
                for direction, flow in zip(DIRECTIONS, flows):
                    write_flo(folders[direction] / name, flow)
                    if viz_folders:
                        write_image(viz_folders[direction] / name.replace('.flo', '.png'), flow_to_color(flow))
                progress.update(1)
            carried = (batch[-1] + 1, prepared[-1])


def max_motion(out_path) -> float:
    """The largest flow component (pixels) of any forward or backward .flo file of a flow folder."""
    largest = 0.0
    for folder in flow_folders(out_path):
        for path in sorted(folder.glob('[0-9]*_[0-9]*.flo')):
            largest = max(largest, float(abs(read_flo(path)).max()))
    return largest
