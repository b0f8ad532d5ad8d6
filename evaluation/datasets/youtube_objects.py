"""YouTube-Objects v1.0 (Prest et al., CVPR 2012), as released, with the segmentation masks of
Jain and Grauman (ECCV 2014) beside it:

    <class>/data/<video>/shots/<shot>/frame0001.jpg, ...          frames of one shot (one IKE video)
    <class>/data/<video>/shots/<shot>/frame0001.jpg_sticks.mat    boxes of an annotated frame ('coor':
                                                                   one [x0 y0 x1 y1] per object, 1-based pixels)
    youtube_masks/<class>/data/<video>/shots/<shot>/labels/00001.jpg   mask of frame0001.jpg (JPEG, 0/255)

`youtube_masks/` may sit in the root or beside it. Only annotated frames are scored, and only shots
with annotations are videos of the benchmark (named <class>_<video>_<shot>). CorLoc on the boxes and
mask IoU on the masks as in evaluation/datasets/corloc.py; a mask pixel is foreground when its grey
value is >= 128.
"""
import re
from pathlib import Path

import cv2
import numpy as np
from scipy.io import loadmat
from scipy.io.matlab import MatReadError

from evaluation.datasets.base import (Benchmark, IoUScores, Sequence, check_mask_fits, read_frame_result, select,
                                      sub_folders)
from evaluation.datasets.corloc import CLASSES, class_table, localised, ordered_box
from evaluation.metrics import jaccard
from ike_utils.errors import InputError
from ike_utils.frames import list_frames, read_frame_bgr

BOX_SUFFIX = '_sticks.mat'
MASKS_DIR = 'youtube_masks'
MASK_FOREGROUND = 128


def read_boxes(path) -> list:
    """The ground-truth boxes of a *_sticks.mat file: [(x0, y0, x1, y1)], corners put in order."""
    try:
        cells = loadmat(str(path))['coor']
    except (OSError, ValueError, KeyError, TypeError, MatReadError) as error:
        raise InputError(f'box file {path} is not a YouTube-Objects *_sticks.mat with a \'coor\' entry '
                         f'({error}); replace it from the release') from None
    cells = np.asarray(cells)
    if cells.dtype == object:  # a cell array of 1 x 4 boxes, as released
        items = cells.reshape(-1)
    else:  # a plain matrix of boxes
        items = cells.reshape(-1, 4) if cells.size % 4 == 0 else [cells]
    boxes = []
    for cell in items:
        values = np.asarray(cell, dtype=np.float64).reshape(-1)
        if values.size != 4:
            raise InputError(f'box file {path} holds a box of {values.size} numbers; expected x0 y0 x1 y1')
        boxes.append(ordered_box(*values))
    return boxes


class YouTubeObjects(Benchmark):
    key = 'youtube-objects'
    title = 'YouTube-Objects'
    record_type = IoUScores

    def __init__(self, root):
        super().__init__(root)
        self.classes = [c for c in CLASSES if (self.root / c / 'data').is_dir()]
        if not self.classes:
            looks_v22 = (self.root / 'Ranges').is_dir()
            hint = ' (it looks like v2.2: use --dataset youtube-objects-v2.2)' if looks_v22 else ''
            raise InputError(f'dataset root {root} holds none of the 10 class folders ({", ".join(CLASSES)}) '
                             f'with <class>/data/<video>/shots/<shot>/; pass a YouTube-Objects v1.0 root{hint}')
        self.masks_root = next((p for p in (self.root / MASKS_DIR, self.root.parent / MASKS_DIR) if p.is_dir()), None)

    def _mask_dir(self, sequence) -> Path:
        video, shot = sequence.frames_dir.parts[-3], sequence.frames_dir.parts[-1]
        if self.masks_root is None:
            return None
        return self.masks_root / sequence.group / 'data' / video / 'shots' / shot / 'labels'

    def _box_files(self, frames_dir: Path) -> list:
        return sorted(frames_dir.glob('*' + BOX_SUFFIX))

    def _mask_files(self, sequence) -> list:
        folder = self._mask_dir(sequence)
        return sorted(folder.glob('*.jpg')) + sorted(folder.glob('*.png')) if folder and folder.is_dir() else []

    def sequences(self, names=None) -> list:
        """Every annotated shot (boxes or masks), class by class."""
        available = []
        for cls in self.classes:
            for video in sub_folders(self.root / cls / 'data'):
                shots = self.root / cls / 'data' / video / 'shots'
                for shot in sub_folders(shots) if shots.is_dir() else []:
                    sequence = Sequence(f'{cls}_{video}_{shot}', shots / shot, cls)
                    if self.has_ground_truth(sequence):
                        available.append(sequence)
        if not available:
            raise InputError(f'dataset root {self.root} holds no annotated shot (*{BOX_SUFFIX} boxes or '
                             f'{MASKS_DIR}/ masks)')
        return select(available, names, self.root)

    def has_ground_truth(self, sequence) -> bool:
        return bool(self._box_files(sequence.frames_dir) or self._mask_files(sequence))

    def _annotated_frames(self, sequence):
        """(frames, [(frame index, box file)], [(frame index, mask file)]) of one shot; an annotation
        that belongs to no frame of it is an InputError."""
        frames = list_frames(sequence.frames_dir)
        index_of = {path.name: index for index, path in enumerate(frames)}

        def frame_index(name, source):
            if name not in index_of:
                raise InputError(f'{source} belongs to frame {name}, which is not in {sequence.frames_dir}')
            return index_of[name]

        boxes = [(frame_index(box_file.name[:-len(BOX_SUFFIX)], box_file), box_file)
                 for box_file in self._box_files(sequence.frames_dir)]
        masks = []
        for mask_file in self._mask_files(sequence):
            if not re.fullmatch(r'\d+', mask_file.stem):
                raise InputError(f'mask {mask_file} is not named by its frame number (00001.jpg for frame0001.jpg)')
            masks.append((frame_index('frame%04d.jpg' % int(mask_file.stem), mask_file), mask_file))
        return frames, boxes, masks

    def check_ground_truth(self, sequence) -> None:
        """An InputError, before any work, when the shot's boxes or masks do not fit its frames (names,
        a readable box file, the mask size)."""
        frames, boxes, masks = self._annotated_frames(sequence)
        for _, box_file in boxes:
            read_boxes(box_file)
        if masks:
            index, mask_file = masks[0]
            check_mask_fits(mask_file, _read_grey(mask_file).shape, frames[index])

    def score(self, sequence, result_dir, threshold: float = 0.5, naming: str = 'index') -> IoUScores:
        """CorLoc on the box-annotated frames and mask IoU on the mask-annotated frames of one shot."""
        frames, boxes, masks = self._annotated_frames(sequence)
        record = IoUScores(name=sequence.name, group=sequence.group, threshold=threshold)
        for index, box_file in boxes:
            shape = read_frame_bgr(frames[index]).shape[:2]
            mask = read_frame_result(result_dir, frames[index], index, naming, shape, threshold)
            record.box_frames.append(frames[index].stem)
            record.box_hits.append(localised(mask, read_boxes(box_file)))
        for index, mask_file in masks:
            truth = _read_grey(mask_file) >= MASK_FOREGROUND
            result = read_frame_result(result_dir, frames[index], index, naming, truth.shape, threshold)
            record.frames.append(frames[index].stem)
            record.iou_per_frame.append(float(jaccard(truth, result)))
        return record

    paper_table = staticmethod(class_table)


def _read_grey(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(f'mask {path} cannot be read as an image; replace it from the release')
    return image
