"""The DAVIS-2016 measures on numpy masks: region similarity J, boundary accuracy F, and the
per-sequence statistics (mean, recall, decay).

Written from the protocol of Perazzi et al. (CVPR 2016) and checked against its official code
(fperazzi/davis, davisvideochallenge/davis2017-evaluation): same boundary definition, same
tolerance, same edge cases, same decay bins. Masks are boolean H x W arrays.
"""
import functools
import math

import cv2
import numpy as np

BOUNDARY_TOLERANCE = 0.008  # share of the image diagonal within which boundary pixels match
RECALL_THRESHOLD = 0.5      # a frame counts towards recall when its score is strictly above this
DECAY_BINS = 4              # decay = mean of the first of 4 temporal bins minus mean of the last


def jaccard(annotation: np.ndarray, segmentation: np.ndarray) -> float:
    """Intersection over union of two boolean masks; 1 when both are empty."""
    _check_same_shape(annotation, segmentation)
    annotation = annotation.astype(bool, copy=False)
    segmentation = segmentation.astype(bool, copy=False)
    union = np.count_nonzero(annotation | segmentation)
    if union == 0:
        return 1.0
    return np.count_nonzero(annotation & segmentation) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary of a boolean mask, as the Berkeley/DAVIS `seg2bmap`.

    A pixel is on the boundary when it differs from its right, lower or lower-right neighbour
    (so the boundary sits half a pixel towards the origin). In the last row only the right
    neighbour counts, in the last column only the lower one, and the bottom-right corner never
    counts. The image border itself is not a boundary: a full mask has none.
    """
    mask = mask.astype(bool, copy=False)
    height, width = mask.shape
    boundary = np.zeros((height, width), dtype=bool)
    # interior: compare with right, lower and lower-right neighbours
    core = mask[:-1, :-1]
    boundary[:-1, :-1] = (core != mask[:-1, 1:]) | (core != mask[1:, :-1]) | (core != mask[1:, 1:])
    # last column (except the corner): only the lower neighbour exists
    boundary[:-1, -1] = mask[:-1, -1] != mask[1:, -1]
    # last row (except the corner): only the right neighbour exists
    boundary[-1, :-1] = mask[-1, :-1] != mask[-1, 1:]
    boundary[-1, -1] = False
    return boundary


def boundary_tolerance(height: int, width: int, bound_th: float = BOUNDARY_TOLERANCE) -> int:
    """Matching radius in pixels: ceil(bound_th * diagonal), or bound_th itself when it is >= 1."""
    if bound_th >= 1:
        return int(math.ceil(bound_th))
    return int(math.ceil(bound_th * math.sqrt(height * height + width * width)))


@functools.lru_cache(maxsize=16)
def disk_kernel(radius: int) -> np.ndarray:
    """(2r+1) x (2r+1) uint8 disk: the offsets (dy, dx) with dy^2 + dx^2 <= r^2."""
    offsets = np.arange(-radius, radius + 1)
    return ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius * radius).astype(np.uint8)


def boundary_precision_recall(annotation: np.ndarray, segmentation: np.ndarray,
                              bound_th: float = BOUNDARY_TOLERANCE):
    """(precision, recall) of the segmentation's boundary against the annotation's.

    A boundary pixel of one mask is matched when a boundary pixel of the other lies within the
    tolerance disk. When one boundary is empty: precision 1, recall 0 if only the segmentation's
    is empty; precision 0, recall 1 if only the annotation's is; both 1 if both are.
    """
    _check_same_shape(annotation, segmentation)
    radius = boundary_tolerance(*annotation.shape, bound_th=bound_th)
    gt_boundary = boundary_map(annotation)
    fg_boundary = boundary_map(segmentation)
    n_gt = np.count_nonzero(gt_boundary)
    n_fg = np.count_nonzero(fg_boundary)
    if n_fg == 0 or n_gt == 0:
        return (1.0 if n_fg == 0 else 0.0), (1.0 if n_gt == 0 else 0.0)
    kernel = disk_kernel(radius)
    gt_near = cv2.dilate(gt_boundary.view(np.uint8), kernel).view(bool)
    fg_near = cv2.dilate(fg_boundary.view(np.uint8), kernel).view(bool)
    precision = np.count_nonzero(fg_boundary & gt_near) / n_fg
    recall = np.count_nonzero(gt_boundary & fg_near) / n_gt
    return precision, recall


def f_measure(precision: float, recall: float) -> float:
    """Harmonic mean 2PR / (P + R); 0 when both are 0."""
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def boundary_f(annotation: np.ndarray, segmentation: np.ndarray, bound_th: float = BOUNDARY_TOLERANCE) -> float:
    """The DAVIS boundary F-measure of one frame."""
    return f_measure(*boundary_precision_recall(annotation, segmentation, bound_th))


def decay_bins(count: int):
    """The (first, last) index ranges, inclusive, of the first and last of the 4 decay bins.

    As the DAVIS-2016 code: edges = round(linspace(1, count, 5)) - 1 with numpy's round (halves
    to even); bin i spans edges[i]..edges[i+1] inclusive, so neighbouring bins share a frame.
    """
    edges = np.round(np.linspace(1, count, DECAY_BINS + 1)).astype(int) - 1
    return (int(edges[0]), int(edges[1])), (int(edges[-2]), int(edges[-1]))


def sequence_statistics(per_frame) -> tuple:
    """(mean, recall, decay) of the per-frame scores of one sequence (evaluated frames only).

    recall = share of frames scoring strictly above 0.5; decay = mean of the first quarter of the
    frames minus the mean of the last quarter (bins as `decay_bins`).
    """
    values = np.asarray(per_frame, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError('sequence_statistics needs a non-empty 1-D list of per-frame scores')
    mean = float(values.mean())
    recall = float(np.mean(values > RECALL_THRESHOLD))
    (first_lo, first_hi), (last_lo, last_hi) = decay_bins(values.size)
    decay = float(values[first_lo:first_hi + 1].mean() - values[last_lo:last_hi + 1].mean())
    return mean, recall, decay


def _check_same_shape(annotation, segmentation):
    if annotation.shape != segmentation.shape or annotation.ndim != 2:
        raise ValueError(f'masks must be 2-D and of the same shape, got {annotation.shape} and {segmentation.shape}')
