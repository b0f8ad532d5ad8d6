"""SegTrack-v2 (Li et al., ICCV 2013), as released (SegTrackv2.zip):

    JPEGImages/<video>/<frame>.png|.bmp|.jpg      frames, e.g. bmx_06668.png or 00000.jpg
    GroundTruth/<video>/<frame>.png|.bmp          one mask per frame, same stem as the frame
    GroundTruth/<video>/1/<frame>..., 2/...       multi-object videos: one folder per object

Protocol of the unsupervised single-object papers (IKE, GO-VOS): the foreground is the union of
every object's mask (a pixel is foreground when non-zero in any of them); each video scores the
mean IoU over every frame that has a ground-truth mask (all frames in the release, the first and
last included); the dataset figure is the mean over videos."""
import math
from pathlib import Path

from evaluation.datasets.base import (Benchmark, IoUScores, check_mask_fits, mean, read_frame_result,
                                      require_folder, select, sub_folders, video_folders)
from evaluation.davis import read_annotation
from evaluation.metrics import jaccard
from ike_utils.errors import InputError
from ike_utils.frames import IMAGE_SUFFIXES, list_frames

FRAMES_DIR = 'JPEGImages'
GROUND_TRUTH_DIR = 'GroundTruth'
LAYOUT = 'SegTrack-v2 root (JPEGImages/<video>/, GroundTruth/<video>/)'


def object_folders(folder: Path) -> list:
    """The per-object mask folders of a video's ground truth: its numbered sub-folders (1, 2, ...)
    in numeric order, or the folder itself for a single-object video."""
    numbered = sorted((name for name in sub_folders(folder) if name.isdigit()), key=int)
    return [folder / name for name in numbered] or [folder]


def _masks_by_stem(folder: Path) -> dict:
    return {p.stem: p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}


class SegTrackV2(Benchmark):
    key = 'segtrackv2'
    title = 'SegTrack-v2'
    record_type = IoUScores

    def __init__(self, root):
        root = Path(root)
        if root.name == GROUND_TRUTH_DIR and not (root / FRAMES_DIR).is_dir():
            root = root.parent  # evaluate.py --annotations may name the GroundTruth folder itself
        super().__init__(root)
        require_folder(root, FRAMES_DIR, LAYOUT)

    def sequences(self, names=None) -> list:
        folder = self.root / FRAMES_DIR
        return select(video_folders(folder, 'SegTrack-v2 root'), names, folder)

    def has_ground_truth(self, sequence) -> bool:
        return (self.root / GROUND_TRUTH_DIR / sequence.name).is_dir()

    def scored_frames(self, sequence) -> list:
        """[(frame index, frame file, [mask file of each object that has one])] for every frame with
        a ground-truth mask, in video order. A mask without its frame is an InputError."""
        folder = self.root / GROUND_TRUTH_DIR / sequence.name
        if not folder.is_dir():
            raise InputError(f'ground-truth folder {folder} does not exist; SegTrack-v2 keeps the masks of '
                             f'each video in GroundTruth/<video>/')
        frames = list_frames(sequence.frames_dir)
        index_of = {path.stem: index for index, path in enumerate(frames)}
        masks = [_masks_by_stem(objects) for objects in object_folders(folder)]
        stems = {stem for by_stem in masks for stem in by_stem}
        orphans = sorted(stems - set(index_of))
        if orphans:
            raise InputError(f'ground-truth mask {orphans[0]} of {folder} has no frame of that name in '
                             f'{sequence.frames_dir}; masks and frames must share their names')
        if not stems:
            raise InputError(f'ground-truth folder {folder} holds no masks')
        return [(index_of[stem], frames[index_of[stem]], [m[stem] for m in masks if stem in m])
                for stem in sorted(stems, key=index_of.get)]

    def check_ground_truth(self, sequence) -> None:
        """An InputError, before any work, when the video's masks do not fit its frames (names, size)."""
        _, frame, mask_files = self.scored_frames(sequence)[0]
        check_mask_fits(mask_files[0], read_annotation(mask_files[0]).shape, frame)

    def score(self, sequence, result_dir, threshold: float = 0.5, naming: str = 'index') -> IoUScores:
        """IoU of the result against the union of the objects' masks on every scored frame."""
        names, values = [], []
        for index, frame, mask_files in self.scored_frames(sequence):
            truth = None
            for path in mask_files:
                mask = read_annotation(path)
                if truth is not None and mask.shape != truth.shape:
                    raise InputError(f'mask {path} is {mask.shape[1]}x{mask.shape[0]} but the other objects\' '
                                     f'masks of this frame are {truth.shape[1]}x{truth.shape[0]}')
                truth = mask if truth is None else truth | mask
            result = read_frame_result(result_dir, frame, index, naming, truth.shape, threshold)
            names.append(frame.stem)
            values.append(float(jaccard(truth, result)))
        return IoUScores(name=sequence.name, group=sequence.name, frames=names, iou_per_frame=values,
                         threshold=threshold)

    @staticmethod
    def paper_table(scores_by_stage):
        """IoU per video (rows) and stage (columns), then the mean over videos."""
        stages = list(scores_by_stage)
        lookup = {(stage, r.name): r.iou for stage in stages for r in scores_by_stage[stage]}
        names = list(dict.fromkeys(r.name for records in scores_by_stage.values() for r in records))
        rows = [[name, *(lookup.get((stage, name), math.nan) for stage in stages)] for name in names]
        rows.append(['mean', *(mean([r.iou for r in scores_by_stage[stage]]) for stage in stages)])
        return ['sequence', *(f'{stage} IoU' for stage in stages)], rows
