"""What every benchmark module shares: the Benchmark interface, a video of a benchmark, checking a
release's root, listing and picking videos, finding and reading the result mask of a frame, and the
per-frame IoU record of the IoU benchmarks (SegTrack-v2, YouTube-Objects)."""
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from evaluation.davis import read_result
from ike_utils.errors import InputError
from ike_utils.frames import read_frame_bgr

RESULT_SUFFIX = '.png'
RESULT_NAMING = ('index', 'frame')  # %05d.png by position in the video (run_ike.py), or the frame's own name


@dataclass(frozen=True)
class Sequence:
    """One video of a benchmark: its name (also its output folder), its frames folder, its group
    (the object class for YouTube-Objects, else the name), and, for a video that is a span of a
    larger folder (a YouTube-Objects v2.2 shot), its frame files in order."""
    name: str
    frames_dir: Path
    group: str = ''
    frames: Tuple[Path, ...] = ()


class Benchmark:
    """A benchmark as released at `root`. Each one has `sequences(names)`, its videos (all when
    `names` is empty); `has_ground_truth(sequence)`; `score(sequence, result_dir, threshold, naming)`,
    one video's results scored with its protocol (a `record_type`); and `paper_table({stage:
    [records]})`, (header, rows) of the paper's table."""
    key = ''
    title = ''
    record_type = None

    def __init__(self, root):
        self.root = Path(root)

    def check_ground_truth(self, sequence) -> None:
        """An InputError, before any work, when the video's ground truth does not fit its frames."""
        raise NotImplementedError

    def annotation_dir(self, sequence) -> Optional[Path]:
        """The folder of ground-truth masks named like the results (for contact sheets), if any."""
        return None


def require_folder(root, sub, layout: str) -> None:
    """An InputError unless root/sub is a folder; `layout` says what a right root holds."""
    if not (Path(root) / sub).is_dir():
        raise InputError(f'dataset root {root} has no {sub} folder; pass a {layout}')


def sub_folders(folder) -> list:
    """Names of the visible sub-folders of `folder`, sorted."""
    return sorted(p.name for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith('.'))


def video_folders(folder, layout: str) -> list:
    """A Sequence for each video folder of `folder` (named and grouped by the folder's name)."""
    folder = Path(folder)
    available = [Sequence(name, folder / name, name) for name in sub_folders(folder)]
    if not available:
        raise InputError(f'{folder} holds no video folders; pass a {layout}')
    return available


def select(sequences, names, where: str) -> list:
    """`sequences` (all of them when `names` is empty), else the named ones in the order asked."""
    if not names:
        return list(sequences)
    by_name = {s.name: s for s in sequences}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        known = list(by_name)
        raise InputError(f'unknown sequence {unknown[0]!r}: not a video of {where} '
                         f'(known: {", ".join(known[:8])}{", ..." if len(known) > 8 else ""})')
    return [by_name[name] for name in dict.fromkeys(names)]


def result_file(result_dir, frame_file, index: int, naming: str = 'index') -> Path:
    """The result mask of a frame: '%05d.png' % index (the layout run_ike.py writes), or, with
    naming='frame', the frame's own stem with .png (e.g. bmx_06668.png)."""
    name = ('%05d' % index) if naming == 'index' else Path(frame_file).stem
    return Path(result_dir) / (name + RESULT_SUFFIX)


def read_result_mask(path, shape, threshold: float) -> np.ndarray:
    """A result as a boolean mask (value/255 >= threshold), checked to be of the ground truth's shape."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f'result {path} does not exist; write a mask for every scored frame '
                         f'(named %05d.png by frame index, or like the frames with --results_named frame)')
    mask = read_result(path, threshold)
    if mask.shape != tuple(shape):
        raise InputError(f'result {path} is {mask.shape[1]}x{mask.shape[0]} but its ground truth is '
                         f'{shape[1]}x{shape[0]}; write results at the frame size')
    return mask


def check_mask_fits(mask_path, mask_shape, frame_path) -> None:
    """An InputError when a ground-truth mask (of `mask_shape`, height x width) is not of its frame's size."""
    height, width = read_frame_bgr(frame_path).shape[:2]
    if tuple(mask_shape) != (height, width):
        raise InputError(f'ground-truth mask {mask_path} is {mask_shape[1]}x{mask_shape[0]} but its frame '
                         f'{frame_path} is {width}x{height}; pass the ground truth of these frames')


def read_frame_result(result_dir, frame_file, index: int, naming: str, shape, threshold: float) -> np.ndarray:
    """The result mask of the frame at `index` of a video (found as `result_file`, read as `read_result_mask`)."""
    return read_result_mask(result_file(result_dir, frame_file, index, naming), shape, threshold)


def mean(values) -> float:
    """The mean of `values`, NaN when there are none."""
    return float(np.mean(values)) if len(values) else math.nan


def nanmean(values) -> float:
    """The mean of the values that are not NaN, NaN when none is left."""
    return mean([v for v in values if not math.isnan(v)])


@dataclass
class IoUScores:
    """The scores of one video on an IoU benchmark: mask IoU per scored frame, and for box-annotated
    frames whether the box around the predicted mask is correct (IoU > 0.5 with a ground-truth box)."""
    name: str
    group: str
    frames: List[str] = field(default_factory=list)       # frames with a ground-truth mask
    iou_per_frame: List[float] = field(default_factory=list)
    box_frames: List[str] = field(default_factory=list)   # frames with ground-truth boxes
    box_hits: List[bool] = field(default_factory=list)
    threshold: float = 0.5

    @property
    def iou(self) -> float:
        """Mean IoU over the frames with a mask (NaN when there are none)."""
        return mean(self.iou_per_frame)

    @property
    def corloc(self) -> float:
        """Share of the box-annotated frames localised correctly (NaN when there are none)."""
        return mean([float(hit) for hit in self.box_hits])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> 'IoUScores':
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})
