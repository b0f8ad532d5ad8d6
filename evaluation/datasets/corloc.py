"""The YouTube-Objects protocol that v1.0 and v2.2 share: the 10 classes, boxes and CorLoc, and the
per-class table.

- CorLoc (the figure of GO-VOS and IKE): a box-annotated frame is correct when the box around the
  predicted mask has IoU > 0.5 with one of its ground-truth boxes (PASCAL overlap, inclusive pixel
  boxes); an empty mask is wrong. Per class, the share of correct frames; then the mean over classes.
- Mask IoU, where there are masks (Jain and Grauman's, for v1.0): per class, the mean IoU over its
  annotated frames; then the mean over classes.
"""
import math

import numpy as np

from evaluation.datasets.base import mean, nanmean

CLASSES = ('aeroplane', 'bird', 'boat', 'car', 'cat', 'cow', 'dog', 'horse', 'motorbike', 'train')
CORLOC_OVERLAP = 0.5


def box_of_mask(mask: np.ndarray):
    """(x0, y0, x1, y1), 1-based inclusive pixel coordinates, of the mask's foreground; None if empty."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return columns[0] + 1, rows[0] + 1, columns[-1] + 1, rows[-1] + 1


def ordered_box(x0, y0, x1, y1) -> tuple:
    """A box (x0, y0, x1, y1) with its corners put in order (x0 <= x1, y0 <= y1)."""
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def box_iou(a, b) -> float:
    """PASCAL overlap of two inclusive pixel boxes (x0, y0, x1, y1): areas count (x1 - x0 + 1) columns."""
    width = min(a[2], b[2]) - max(a[0], b[0]) + 1
    height = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return float(inter / (area - inter))


def localised(mask, boxes) -> bool:
    """Whether the box around `mask` has IoU > 0.5 with one of `boxes` (False for an empty mask)."""
    predicted = box_of_mask(mask)
    return predicted is not None and any(box_iou(predicted, box) > CORLOC_OVERLAP for box in boxes)


def class_scores(records) -> dict:
    """{class: (mean IoU over its mask-annotated frames, CorLoc over its box-annotated frames)}."""
    pooled = {}
    for r in records:
        ious, hits = pooled.setdefault(r.group, ([], []))
        ious += r.iou_per_frame
        hits += [float(h) for h in r.box_hits]
    return {cls: (mean(ious), mean(hits)) for cls, (ious, hits) in pooled.items()}


def class_table(scores_by_stage):
    """IoU and CorLoc per class (rows) and stage (columns), then the mean over classes."""
    stages = list(scores_by_stage)
    per_stage = {stage: class_scores(records) for stage, records in scores_by_stage.items()}
    classes = [c for c in CLASSES if any(c in scores for scores in per_stage.values())]
    rows = [[c, *(value for stage in stages for value in per_stage[stage].get(c, (math.nan, math.nan)))]
            for c in classes]
    rows.append(['mean', *(nanmean([v[k] for v in per_stage[stage].values()]) for stage in stages for k in (0, 1))])
    header = ['class', *(f'{stage} {measure}' for stage in stages for measure in ('IoU', 'CorLoc'))]
    return header, rows
