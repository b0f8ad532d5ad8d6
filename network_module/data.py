"""Reading a video and its pseudo ground truth (the graph module's soft masks) into tensors."""
from pathlib import Path

import torch

from ike_utils.errors import InputError
from ike_utils.frames import list_frames, load_frames, scale_frames

# the graph's maps are min-max normalised, so they lie in [0, 1]; allow float rounding around it
RANGE_TOLERANCE = 1e-5


def pseudo_label_name(index: int) -> str:
    return '%05d.pt' % index


def load_pseudo_labels(folder, n_frames: int, height: int, width: int) -> torch.Tensor:
    """The soft masks `folder/%05d.pt` (H x W x 1, values in [0, 1]) of n_frames frames, as an
    n x H x W float32 tensor. Any mismatch with the frames or the working size is an InputError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f'pseudo-label folder {folder} does not exist; pass the graph module\'s output '
                         f'folder (e.g. graph_out/iter_19)')
    present = sorted(p.name for p in folder.glob('*.pt'))
    expected = [pseudo_label_name(i) for i in range(n_frames)]
    if present != expected:
        missing = sorted(set(expected) - set(present))
        extra = sorted(set(present) - set(expected))
        what = (f'lacks {missing[0]}' if missing else f'has the extra file {extra[0]}')
        raise InputError(f'pseudo-label folder {folder} holds {len(present)} .pt file(s) for {n_frames} frames '
                         f'({what}); it must hold 00000.pt .. {expected[-1]}, one per frame of the same video')
    labels = torch.empty(n_frames, height, width, dtype=torch.float32)
    for index, name in enumerate(expected):
        labels[index] = _read_pseudo_label(folder / name, height, width)
    return labels


def _read_pseudo_label(path: Path, height: int, width: int) -> torch.Tensor:
    try:
        value = torch.load(path, map_location='cpu', weights_only=True)
    except Exception:  # not a torch file, truncated, or pickled Python objects other than tensors
        raise InputError(f'pseudo label {path} cannot be loaded as a tensor (not a torch file, or it holds '
                         f'other Python objects); it must be an H x W x 1 float tensor saved with torch.save') from None
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise InputError(f'pseudo label {path} is not a float tensor; it must be an H x W x 1 soft mask')
    if tuple(value.shape) != (height, width, 1):
        raise InputError(f'pseudo label {path} has shape {tuple(value.shape)}, expected ({height}, {width}, 1): '
                         f'run the graph module with the same [General] working_h/working_w as this config')
    value = value[..., 0].float()
    if not torch.isfinite(value).all():
        raise InputError(f'pseudo label {path} contains NaN or infinite values; run the graph module again')
    low, high = value.min().item(), value.max().item()
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise InputError(f'pseudo label {path} has values in [{low:.4g}, {high:.4g}], outside [0, 1]; '
                         f'soft masks must be probabilities')
    return value


class VideoFrames:
    """A video's frames at working size, kept as uint8 (3 bytes a pixel) and made float32 (RGB /
    255, n x 3 x H x W) a batch at a time: `frames[index]` for an index tensor or a slice."""

    def __init__(self, images: torch.Tensor):
        self.images = images  # n x 3 x H x W uint8
        self.shape = images.shape

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> torch.Tensor:
        return scale_frames(self.images[index])

    def __iter__(self):
        return (self[index] for index in range(len(self)))


def load_video(frames_path, pseudo_gt_path, height: int, width: int, min_frames: int):
    """Frames (VideoFrames: RGB / 255, bicubic to working size), pseudo labels (n x H x W float32)
    and the original frame size. `min_frames` is the batch size: fewer frames would give no
    training step."""
    files = list_frames(frames_path)
    if len(files) < min_frames:
        raise InputError(f'frames folder {frames_path} holds {len(files)} frame(s), fewer than one batch '
                         f'({min_frames}); lower [Network Module] batch_size or use a longer video')
    labels = load_pseudo_labels(pseudo_gt_path, len(files), height, width)
    frames, original_size = load_frames(files, height, width, rgb=True, scaled=False)
    return VideoFrames(frames.permute(0, 3, 1, 2).contiguous()), labels, original_size


def training_targets(soft: torch.Tensor):
    """Hard labels (soft >= 0.5, int64) and the soft foreground target clipped to [0, 1], as the
    reference; the background target is 1 - foreground (built inside the loss)."""
    hard = (soft >= 0.5).long()
    return hard, soft.clamp(0, 1)


def confident_targets(soft: torch.Tensor, low: float, high: float):
    """Labels of the confident pixels only ([Network Module] label_band): object where soft >= high,
    background where soft < low, the band between ignored. Returns the hard labels (int64, 0 in the
    band), the Dice target (the hard labels as float) and the mask of confident pixels (bool), each
    shaped like soft (n x H x W)."""
    foreground = soft >= high
    hard = foreground.long()
    return hard, hard.float(), foreground | (soft < low)


def steps_per_epoch(n_items: int, batch_size: int, min_steps: int = 0) -> int:
    """Training steps of an epoch: one pass's full batches, or `min_steps` if that is more."""
    return max(n_items // batch_size, min_steps)


def batches(n_items: int, batch_size: int, generator: torch.Generator, min_steps: int = 0):
    """Shuffled index batches; the last incomplete batch is dropped (the reference's DataLoader).
    With `min_steps` above one pass's batches, further passes, each shuffled anew, follow until
    there are `min_steps` batches (IKE+: a short video gets as many steps as a longer one)."""
    n_batches, wanted = n_items // batch_size, steps_per_epoch(n_items, batch_size, min_steps)
    found = []
    while len(found) < wanted:
        order = torch.randperm(n_items, generator=generator)
        found.extend(order[: n_batches * batch_size].view(n_batches, batch_size))
    return found[:wanted]
