"""The DAVIS measures on small masks whose scores are computed by hand, their edge cases, and a
cross-check of F against a slow, literal re-implementation of the official algorithm."""
import numpy as np
import pytest

from evaluation.metrics import (boundary_f, boundary_map, boundary_precision_recall, boundary_tolerance,
                                decay_bins, disk_kernel, jaccard, sequence_statistics)


def rectangle(shape, top, bottom, left, right):
    """Boolean mask with rows top..bottom and columns left..right (inclusive) set."""
    mask = np.zeros(shape, dtype=bool)
    mask[top:bottom + 1, left:right + 1] = True
    return mask


# -- J --------------------------------------------------------------------------------------
def test_jaccard_hand_computed():
    a = rectangle((4, 4), 0, 1, 0, 3)   # 8 pixels
    b = rectangle((4, 4), 1, 2, 0, 3)   # 8 pixels, 4 shared
    assert jaccard(a, b) == pytest.approx(4 / 12)
    assert jaccard(a, a) == 1.0


def test_jaccard_empty_cases():
    empty = np.zeros((5, 6), dtype=bool)
    full = np.ones((5, 6), dtype=bool)
    assert jaccard(empty, empty) == 1.0
    assert jaccard(empty, full) == 0.0
    assert jaccard(full, empty) == 0.0


# -- boundaries -----------------------------------------------------------------------------
def test_boundary_map_of_a_square_is_its_ring_shifted_towards_the_origin():
    mask = rectangle((5, 5), 1, 2, 1, 2)
    expected = np.zeros((5, 5), dtype=bool)
    for y, x in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)]:
        expected[y, x] = True
    np.testing.assert_array_equal(boundary_map(mask), expected)


def test_boundary_map_image_border_is_not_a_boundary():
    assert not boundary_map(np.ones((6, 7), dtype=bool)).any()
    assert not boundary_map(np.zeros((6, 7), dtype=bool)).any()
    # a mask touching the bottom-right corner: last row / column rules apply
    mask = rectangle((4, 4), 2, 3, 2, 3)
    expected = np.zeros((4, 4), dtype=bool)
    expected[1, 1:4] = True       # row above the square (last column compares with the pixel below)
    expected[1:4, 1] = True       # column left of it (last row compares with the pixel to the right)
    np.testing.assert_array_equal(boundary_map(mask), expected)


def test_horizontal_band_boundary_is_one_full_row():
    mask = rectangle((10, 12), 0, 3, 0, 11)
    boundary = boundary_map(mask)
    assert boundary[3].all() and boundary.sum() == 12


def test_tolerance_is_ceil_of_0008_diagonal():
    assert boundary_tolerance(480, 854) == 8          # DAVIS 480p: 0.008 * 979.65 = 7.84
    assert boundary_tolerance(300, 400) == 4          # 0.008 * 500 = 4 exactly
    assert boundary_tolerance(30, 40) == 1            # 0.4 -> 1
    assert boundary_tolerance(30, 40, bound_th=3) == 3  # >= 1 means pixels


def test_disk_kernel_is_euclidean_disk():
    np.testing.assert_array_equal(disk_kernel(1), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    kernel = disk_kernel(2)
    assert kernel.shape == (5, 5) and kernel.sum() == 13 and kernel[0, 1] == 0 and kernel[1, 1] == 1


@pytest.mark.parametrize('shape, radius', [((300, 400), 4), ((480, 854), 8)])
def test_band_shift_matches_exactly_up_to_the_tolerance(shape, radius):
    gt = rectangle(shape, 0, 99, 0, shape[1] - 1)
    for shift in (radius - 1, radius):
        assert boundary_f(gt, rectangle(shape, 0, 99 + shift, 0, shape[1] - 1)) == 1.0
        assert boundary_f(gt, rectangle(shape, 0, 99 - shift, 0, shape[1] - 1)) == 1.0
    assert boundary_f(gt, rectangle(shape, 0, 99 + radius + 1, 0, shape[1] - 1)) == 0.0


def test_square_shifted_by_one_column_is_within_tolerance():
    gt = rectangle((30, 40), 10, 19, 10, 19)            # tolerance 1 pixel (plus-shaped disk)
    assert boundary_precision_recall(gt, rectangle((30, 40), 10, 19, 11, 20)) == (1.0, 1.0)


def test_square_shifted_by_two_columns_hand_computed():
    # Both boundaries are 40-pixel rings; 22 pixels of each lie within 1 pixel of the other ring
    # (10 on the top row, 10 on the bottom row, 2 on a side column).
    gt = rectangle((30, 40), 10, 19, 10, 19)
    precision, recall = boundary_precision_recall(gt, rectangle((30, 40), 10, 19, 12, 21))
    assert (precision, recall) == (pytest.approx(22 / 40), pytest.approx(22 / 40))
    assert boundary_f(gt, rectangle((30, 40), 10, 19, 12, 21)) == pytest.approx(0.55)


def test_diagonal_shift_misses_only_the_far_corner_with_a_disk():
    # With a radius-1 disk (not a square) the diagonal neighbour is out of reach: only the far
    # corner of each ring stays unmatched: P = R = 39/40.
    gt = rectangle((30, 40), 10, 19, 10, 19)
    precision, recall = boundary_precision_recall(gt, rectangle((30, 40), 11, 20, 11, 20))
    assert precision == pytest.approx(39 / 40) and recall == pytest.approx(39 / 40)
    assert boundary_f(gt, rectangle((30, 40), 11, 20, 11, 20)) == pytest.approx(39 / 40)


def test_boundary_edge_cases_when_a_boundary_is_empty():
    empty = np.zeros((30, 40), dtype=bool)
    full = np.ones((30, 40), dtype=bool)
    square = rectangle((30, 40), 5, 9, 5, 9)
    assert boundary_precision_recall(square, empty) == (1.0, 0.0)   # nothing predicted
    assert boundary_precision_recall(empty, square) == (0.0, 1.0)   # nothing annotated
    assert boundary_precision_recall(empty, empty) == (1.0, 1.0)
    assert boundary_f(square, empty) == 0.0 and boundary_f(empty, square) == 0.0
    assert boundary_f(empty, empty) == 1.0
    assert boundary_f(full, empty) == 1.0   # neither has a boundary (the image border is none)


# -- slow, literal re-implementation of the official F ---------------------------------------
def slow_seg2bmap(seg):
    """Pixel by pixel: XOR with the east, south and south-east neighbours (0 outside the image);
    the last row uses only east, the last column only south, the corner is 0."""
    h, w = seg.shape
    out = np.zeros((h, w), dtype=bool)
    for y in range(h):
        for x in range(w):
            e = seg[y, x + 1] if x + 1 < w else False
            s = seg[y + 1, x] if y + 1 < h else False
            se = seg[y + 1, x + 1] if (x + 1 < w and y + 1 < h) else False
            value = (seg[y, x] ^ e) or (seg[y, x] ^ s) or (seg[y, x] ^ se)
            if y == h - 1:
                value = seg[y, x] ^ e
            if x == w - 1:
                value = seg[y, x] ^ s
            if y == h - 1 and x == w - 1:
                value = False
            out[y, x] = value
    return out


def slow_f(gt, fg, bound_th):
    h, w = gt.shape
    radius = bound_th if bound_th >= 1 else np.ceil(bound_th * np.linalg.norm([h, w]))
    gt_b, fg_b = np.argwhere(slow_seg2bmap(gt)), np.argwhere(slow_seg2bmap(fg))
    if len(fg_b) == 0 or len(gt_b) == 0:
        precision = 1.0 if len(fg_b) == 0 else 0.0
        recall = 1.0 if len(gt_b) == 0 else 0.0
    else:
        d2 = ((fg_b[:, None, :] - gt_b[None, :, :]) ** 2).sum(-1)
        close = d2 <= radius * radius
        precision = close.any(axis=1).mean()
        recall = close.any(axis=0).mean()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def random_mask(rng, shape, kind):
    if kind == 'noise':
        return rng.random(shape) < rng.uniform(0.05, 0.95)
    # blobs: smoothed noise, thresholded
    import cv2
    noise = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), rng.uniform(1.5, 4))
    return noise > np.quantile(noise, rng.uniform(0.3, 0.9))


def test_f_matches_slow_official_algorithm_on_random_masks():
    rng = np.random.default_rng(0)
    cases = 0
    for shape in [(23, 31), (40, 27), (130, 15)]:          # tolerance 1, 1 and 2 pixels
        for bound_th in (0.008, 2, 3):
            for kind in ('noise', 'blobs'):
                gt, fg = random_mask(rng, shape, kind), random_mask(rng, shape, kind)
                for a, b in [(gt, fg), (gt, gt & fg), (gt, np.roll(gt, 2, axis=1))]:
                    assert boundary_f(a, b, bound_th) == pytest.approx(slow_f(a, b, bound_th), abs=1e-12)
                    cases += 1
    assert cases == 54


def test_boundary_map_matches_slow_seg2bmap_on_random_masks():
    rng = np.random.default_rng(1)
    for shape in [(1, 5), (5, 1), (2, 2), (17, 13)]:
        for _ in range(5):
            mask = rng.random(shape) < 0.5
            np.testing.assert_array_equal(boundary_map(mask), slow_seg2bmap(mask))


# -- statistics -----------------------------------------------------------------------------
def test_statistics_hand_computed():
    values = [0.9, 0.8, 0.4, 0.6, 0.2, 0.3, 0.7, 0.1]
    mean, recall, decay = sequence_statistics(values)
    assert mean == pytest.approx(0.5)
    assert recall == pytest.approx(0.5)                  # 0.9, 0.8, 0.6, 0.7 are above 0.5
    # edges round(linspace(1, 8, 5)) - 1 = [0, 2, 3, 5, 7]: bins 0..2 and 5..7
    assert decay == pytest.approx((0.9 + 0.8 + 0.4) / 3 - (0.3 + 0.7 + 0.1) / 3)


def test_recall_counts_strictly_above_half():
    assert sequence_statistics([0.5, 0.5, 0.51, 0.49])[1] == pytest.approx(0.25)


def test_decay_bins_round_halves_to_even_as_davis_2016():
    assert decay_bins(8) == ((0, 2), (5, 7))
    assert decay_bins(47) == ((0, 11), (35, 46))   # libby: 12.5 -> 12, 35.5 -> 36
    assert decay_bins(3) == ((0, 1), (1, 2))       # 1.5 -> 2, 2.5 -> 2
    assert decay_bins(1) == ((0, 0), (0, 0))
    assert sequence_statistics([0.7])[2] == 0.0


def test_decay_of_a_steady_decline():
    values = np.linspace(1.0, 0.0, 48)
    first, last = decay_bins(48)
    assert sequence_statistics(values)[2] == pytest.approx(values[first[0]:first[1] + 1].mean()
                                                           - values[last[0]:last[1] + 1].mean())
    assert sequence_statistics(values)[2] > 0.7
