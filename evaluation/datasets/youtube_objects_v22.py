"""YouTube-Objects v2.2 (Kalogeiton et al., TPAMI 2016), as released (calvin-vision.net,
bigstuff/youtube-objectsv2/: <class>.tar.gz, Ranges.tar.gz, GroundTruth.tar.gz):

    <class>/00000001.jpg, ...                        every frame of the class's videos, numbered on
    Ranges/ranges_<class>.mat                        'ranges', 3 x S: shot s spans frames ranges[0, s]
                                                     to ranges[1, s] (inclusive) of video ranges[2, s]
    GroundTruth/<class>/bb_gtTraining_<class>.mat    'bb_gtTraining', 1 x N struct: (frame id such as
                                                     'aeroplane00002166', K x 4 boxes [x0 y0 x1 y1])
    GroundTruth/<class>/bb_gtTest_<class>.mat        'bb_gtTest': the same for the test videos

A shot is one IKE video (named <class>_<video>_<shot>, the shot numbered from 1 in the ranges file);
only shots with a box are videos of the benchmark, and only their box-annotated frames, of the
training and the test files alike, are scored: CorLoc as in evaluation/datasets/corloc.py (v2.2 has
no masks). A frame inside two shots (their ranges touch) is scored in the first. Boxes are read as
v1.0's: 1-based inclusive pixels, corners put in order.
"""
from dataclasses import dataclass

import numpy as np
from scipy.io import loadmat
from scipy.io.matlab import MatReadError

from evaluation.datasets.base import Benchmark, IoUScores, Sequence, read_frame_result, select
from evaluation.datasets.corloc import CLASSES, class_table, localised, ordered_box
from ike_utils.errors import InputError
from ike_utils.frames import read_frame_bgr

RANGES_DIR = 'Ranges'
GROUND_TRUTH_DIR = 'GroundTruth'
BOX_SETS = ('bb_gtTraining', 'bb_gtTest')  # GroundTruth/<class>/<set>_<class>.mat holds the variable <set>
FRAME_NAME = '%08d.jpg'
LAYOUT = ('YouTube-Objects v2.2 root (<class>/00000001.jpg, ..., Ranges/ranges_<class>.mat, '
          'GroundTruth/<class>/bb_gtTest_<class>.mat)')


@dataclass(frozen=True)
class Shot:
    """Frames first..last (inclusive, the numbers of the class's frame files) of one video."""
    number: int
    video: int
    first: int
    last: int


def _load(path, variable: str, what: str):
    try:
        return loadmat(str(path))[variable]
    except FileNotFoundError:
        raise InputError(f'{what} {path} does not exist; pass a {LAYOUT}') from None
    except (OSError, ValueError, KeyError, TypeError, MatReadError) as error:
        raise InputError(f'{what} {path} is not a YouTube-Objects v2.2 .mat with a {variable!r} entry '
                         f'({error}); replace it from the release') from None


def read_shots(path) -> list:
    """The shots of a Ranges/ranges_<class>.mat file, in its order."""
    ranges = np.asarray(_load(path, 'ranges', 'shot ranges file'))
    if ranges.ndim != 2 or ranges.shape[0] < 3 or ranges.dtype == object:
        raise InputError(f'shot ranges file {path} holds a {ranges.shape} array; expected 3 rows (first frame, '
                         f'last frame, video) and one column per shot')
    shots = [Shot(number, int(video), int(first), int(last))
             for number, (first, last, video) in enumerate(ranges[:3].T, 1)]
    bad = next((s for s in shots if s.last < s.first), None)
    if bad is not None:
        raise InputError(f'shot ranges file {path}: shot {bad.number} ends (frame {bad.last}) before it starts '
                         f'(frame {bad.first}); replace it from the release')
    return shots


def read_box_set(path, variable: str, cls: str) -> dict:
    """{frame number: [(x0, y0, x1, y1)]} of a bb_gt*_<class>.mat file, corners put in order."""
    entries = np.asarray(_load(path, variable, 'box file')).reshape(-1)
    boxes = {}
    for entry in entries:
        try:
            frame_id, values = entry[0], entry[1]
            frame_id = str(np.asarray(frame_id).reshape(-1)[0])
            values = np.asarray(values, dtype=np.float64)
        except (IndexError, TypeError, ValueError):
            raise InputError(f'box file {path} holds an entry that is not (frame id, boxes); replace it from '
                             f'the release') from None
        number = frame_id[len(cls):]
        if not frame_id.startswith(cls) or not number.isdigit():
            raise InputError(f'box file {path} names frame {frame_id!r}; expected {cls} and its frame number, '
                             f'e.g. {cls}00000001')
        if values.size == 0 or values.size % 4:
            raise InputError(f'box file {path}: frame {frame_id} has {values.size} box numbers; expected '
                             f'4 per box (x0 y0 x1 y1)')
        boxes.setdefault(int(number), []).extend(ordered_box(*box) for box in values.reshape(-1, 4))
    return boxes


class YouTubeObjectsV22(Benchmark):
    key = 'youtube-objects-v2.2'
    title = 'YouTube-Objects v2.2'
    record_type = IoUScores

    def __init__(self, root):
        super().__init__(root)
        self.classes = [c for c in CLASSES if (self.root / RANGES_DIR / f'ranges_{c}.mat').is_file()]
        if not self.classes:
            hint = ' (it looks like v1.0: use --dataset youtube-objects)' if any(
                (self.root / c / 'data').is_dir() for c in CLASSES) else ''
            raise InputError(f'dataset root {root} holds no {RANGES_DIR}/ranges_<class>.mat of the 10 classes '
                             f'({", ".join(CLASSES)}); pass a {LAYOUT}{hint}')
        self._annotations = {}

    def _class(self, cls) -> tuple:
        """(shots, {shot number: {frame number: boxes}}) of a class, read once."""
        if cls not in self._annotations:
            shots = read_shots(self.root / RANGES_DIR / f'ranges_{cls}.mat')
            boxes = {}
            for variable in BOX_SETS:
                path = self.root / GROUND_TRUTH_DIR / cls / f'{variable}_{cls}.mat'
                for number, frame_boxes in read_box_set(path, variable, cls).items():
                    boxes.setdefault(number, []).extend(frame_boxes)
            by_shot = {}
            for number, frame_boxes in sorted(boxes.items()):
                shot = next((s for s in shots if s.first <= number <= s.last), None)
                if shot is None:
                    raise InputError(f'boxes of {cls} frame {number} ({GROUND_TRUTH_DIR}/{cls}/) lie in no shot of '
                                     f'{RANGES_DIR}/ranges_{cls}.mat; the two files must come from one release')
                by_shot.setdefault(shot.number, {})[number] = frame_boxes
            self._annotations[cls] = (shots, by_shot)
        return self._annotations[cls]

    def _sequence(self, cls, shot) -> Sequence:
        folder = self.root / cls
        return Sequence(f'{cls}_{shot.video:04d}_{shot.number:04d}', folder, cls,
                        tuple(folder / (FRAME_NAME % number) for number in range(shot.first, shot.last + 1)))

    def _boxes(self, sequence) -> dict:
        """{frame number: boxes} of a video's box-annotated frames."""
        shot_number = int(sequence.name.rsplit('_', 1)[1])
        return self._class(sequence.group)[1].get(shot_number, {})

    def sequences(self, names=None) -> list:
        """Every shot with a box, class by class, in the order of its ranges file."""
        available = []
        for cls in self.classes:
            shots, by_shot = self._class(cls)
            available += [self._sequence(cls, shot) for shot in shots if shot.number in by_shot]
        if not available:
            raise InputError(f'dataset root {self.root} holds no box in {GROUND_TRUTH_DIR}/<class>/bb_gt*_<class>.mat '
                             f'that falls in a shot')
        return select(available, names, self.root)

    def has_ground_truth(self, sequence) -> bool:
        return bool(self._boxes(sequence))

    def check_ground_truth(self, sequence) -> None:
        """An InputError, before any work, when a box-annotated frame of the shot is missing."""
        first = int(sequence.frames[0].stem)
        for number in self._boxes(sequence):
            frame = sequence.frames[number - first]
            if not frame.is_file():
                raise InputError(f'{frame}, a box-annotated frame of {sequence.name}, does not exist; the frames and '
                                 f'{GROUND_TRUTH_DIR}/ must come from one release')

    def score(self, sequence, result_dir, threshold: float = 0.5, naming: str = 'index') -> IoUScores:
        """CorLoc on the box-annotated frames of one shot; a result's index is its place in the shot."""
        first = int(sequence.frames[0].stem)
        record = IoUScores(name=sequence.name, group=sequence.group, threshold=threshold)
        for number, boxes in sorted(self._boxes(sequence).items()):
            index = number - first
            frame = sequence.frames[index]
            shape = read_frame_bgr(frame).shape[:2]
            mask = read_frame_result(result_dir, frame, index, naming, shape, threshold)
            record.box_frames.append(frame.stem)
            record.box_hits.append(localised(mask, boxes))
        return record

    paper_table = staticmethod(class_table)
