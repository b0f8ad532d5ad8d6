"""Evaluating folders: a small synthetic dataset with hand-computed scores, evaluate.py through a
subprocess (outputs, exit status 2 and one-line errors), and the DAVIS-2016 dev videos."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import SHARED, shared_missing
from evaluation.davis import evaluate_sequence, evaluate_sequences, read_annotation
from evaluation.metrics import boundary_map, boundary_tolerance
from evaluation.scores import dataset_means, read_json
from ike_utils.errors import InputError

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = SHARED / 'data' / 'davis2016-dev'
SHAPE = (24, 32)                       # diagonal 40: tolerance ceil(0.32) = 1 pixel


def square(top, bottom, left, right, inside=255, outside=0):
    image = np.full(SHAPE, outside, dtype=np.uint8)
    image[top:bottom + 1, left:right + 1] = inside
    return image


def write_png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


@pytest.fixture
def dataset(tmp_path):
    """seqA: 6 annotated frames (8x8 square); results for the 4 evaluated frames are
    exact, empty, the right half, and a soft map (128 inside, 127 outside). seqB: 3 frames, exact."""
    annotations, results = tmp_path / 'annotations', tmp_path / 'results'
    gt = square(4, 11, 4, 11)
    for i in range(6):
        write_png(annotations / 'seqA' / f'{i:05d}.png', gt)
    write_png(results / 'seqA' / '00001.png', gt)
    write_png(results / 'seqA' / '00002.png', square(0, -1, 0, -1))
    write_png(results / 'seqA' / '00003.png', square(4, 11, 8, 11))
    write_png(results / 'seqA' / '00004.png', square(4, 11, 4, 11, inside=128, outside=127))
    write_png(results / 'seqA' / '00005.png', np.zeros((5, 5), np.uint8))  # last frame: never read
    for i in range(3):
        write_png(annotations / 'seqB' / f'{i:05d}.png', square(2, 9, 3, 20))
        write_png(results / 'seqB' / f'{i:05d}.png', square(2, 9, 3, 20))
    return results, annotations


# Hand-computed: J = [1, 0, 1/2, 1]; F = [1, 0, 38/56, 1] (the half square: 19 of its 24 boundary
# pixels and 19 of the 32 annotated ones match, F = 2*19/(24+32)); decay bins for 4 frames are
# frames 0..1 and 2..3.
SEQ_A = dict(J_mean=0.625, J_recall=0.5, J_decay=0.5 - 0.75,
             F_mean=(2 + 38 / 56) / 4, F_recall=0.75, F_decay=0.5 - (38 / 56 + 1) / 2)


def test_sequence_scores_hand_computed(dataset):
    results, annotations = dataset
    record = evaluate_sequence(results / 'seqA', annotations / 'seqA')
    assert record.frames == ['00001', '00002', '00003', '00004']
    assert record.j_per_frame == pytest.approx([1, 0, 0.5, 1])
    assert record.f_per_frame == pytest.approx([1, 0, 38 / 56, 1])
    assert record.statistics() == pytest.approx(SEQ_A)


def test_threshold_applies_to_soft_results(dataset):
    results, annotations = dataset
    record = evaluate_sequence(results / 'seqA', annotations / 'seqA', threshold=0.6)
    assert record.j_per_frame == pytest.approx([1, 0, 0.5, 0])   # 128/255 < 0.6: empty


def test_dataset_means_are_means_over_sequences(dataset):
    results, annotations = dataset
    records = evaluate_sequences(results, annotations)
    assert [r.name for r in records] == ['seqA', 'seqB']
    assert records[1].statistics() == pytest.approx(dict(J_mean=1, J_recall=1, J_decay=0,
                                                         F_mean=1, F_recall=1, F_decay=0))
    means = dataset_means(records)
    assert means['J_mean'] == pytest.approx((0.625 + 1) / 2)
    assert means['F_decay'] == pytest.approx(SEQ_A['F_decay'] / 2)
    only_b = evaluate_sequences(results, annotations, sequences=['seqB'])
    assert [r.name for r in only_b] == ['seqB']


def test_bad_inputs_raise_input_errors(dataset, tmp_path):
    results, annotations = dataset
    with pytest.raises(InputError, match='unknown sequence'):
        evaluate_sequences(results, annotations, sequences=['seqC'])
    with pytest.raises(InputError, match='threshold'):
        evaluate_sequences(results, annotations, threshold=0)
    (results / 'extra').mkdir()
    with pytest.raises(InputError, match="'extra'.*--sequences"):
        evaluate_sequences(results, annotations)
    write_png(annotations / 'short' / '00000.png', square(1, 2, 1, 2))
    (results / 'short').mkdir()
    with pytest.raises(InputError, match='at least 3'):
        evaluate_sequences(results, annotations, sequences=['short'])


def run_evaluate(*args):
    return subprocess.run([sys.executable, str(REPO / 'evaluate.py'), *map(str, args), '--quiet'],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def test_cli_prints_table_and_writes_csv_and_json(dataset, tmp_path):
    results, annotations = dataset
    out_csv, out_json = tmp_path / 'out' / 'scores.csv', tmp_path / 'out' / 'scores.json'
    done = run_evaluate('--results', results, '--annotations', annotations, '--csv', out_csv, '--json', out_json)
    assert done.returncode == 0, done.stderr
    assert 'seqA' in done.stdout and 'mean' in done.stdout and '0.625' in done.stdout
    rows = list(csv.DictReader(out_csv.open()))
    assert [row['sequence'] for row in rows] == ['seqA', 'seqB', 'mean']
    assert float(rows[0]['F_mean']) == pytest.approx(SEQ_A['F_mean'], abs=1e-6)
    assert float(rows[2]['J_mean']) == pytest.approx(0.8125, abs=1e-6)
    assert int(rows[2]['frames']) == 5
    payload = json.loads(out_json.read_text())
    assert payload['threshold'] == 0.5 and payload['mean']['J_recall'] == pytest.approx(0.75)
    reloaded = read_json(out_json)
    assert reloaded[0].j_per_frame == pytest.approx([1, 0, 0.5, 1])


def assert_one_line_error(done, *needles):
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), done.stderr
    for needle in needles:
        assert needle in lines[0]


def test_cli_missing_result_frames_are_named(dataset):
    results, annotations = dataset
    (results / 'seqA' / '00002.png').unlink()
    (results / 'seqA' / '00004.png').unlink()
    done = run_evaluate('--results', results, '--annotations', annotations)
    assert_one_line_error(done, 'seqA', '00002.png', '00004.png', '2 of the 4')


def test_cli_unknown_sequence(dataset):
    results, annotations = dataset
    done = run_evaluate('--results', results, '--annotations', annotations, '--sequences', 'seqA,nope')
    assert_one_line_error(done, "'nope'", 'seqA, seqB')


def test_cli_missing_annotations(dataset, tmp_path):
    results, _ = dataset
    done = run_evaluate('--results', results, '--annotations', tmp_path / 'no_such_folder')
    assert_one_line_error(done, 'no_such_folder', 'does not exist')


def test_cli_size_mismatch_names_the_file(dataset):
    results, annotations = dataset
    write_png(results / 'seqB' / '00001.png', np.zeros((12, 16), np.uint8))
    done = run_evaluate('--results', results, '--annotations', annotations)
    assert_one_line_error(done, str(results / 'seqB' / '00001.png'), '16x12', '32x24')


# -- the DAVIS-2016 dev videos ---------------------------------------------------------------
@pytest.fixture
def dev_data():
    shared_missing(DEV_DATA, 'DAVIS-2016 dev data')


@pytest.mark.usefixtures('dev_data')
def test_dev_annotations_against_themselves_score_one():
    annotations = DEV_DATA / 'Annotations' / '480p'
    records = evaluate_sequences(annotations, annotations)
    assert [r.name for r in records] == ['blackswan', 'car-shadow', 'libby']
    assert [len(r.frames) for r in records] == [48, 38, 47]
    for value in dataset_means(records).values():
        assert value in (0.0, 1.0)
    assert dataset_means(records)['J_mean'] == 1.0 and dataset_means(records)['F_mean'] == 1.0


def distance_f(gt, fg):
    """F via a Euclidean distance transform (an independent way to match within the tolerance)."""
    import cv2

    def distance_to(boundary):
        return cv2.distanceTransform((~boundary).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)

    radius = boundary_tolerance(*gt.shape)
    gt_b, fg_b = boundary_map(gt), boundary_map(fg)
    precision = (distance_to(gt_b)[fg_b] <= radius).mean()
    recall = (distance_to(fg_b)[gt_b] <= radius).mean()
    return 2 * precision * recall / (precision + recall)


@pytest.mark.usefixtures('dev_data')
def test_dev_degraded_copy(tmp_path):
    """car-shadow with every mask moved 6 pixels down and 10 right; frames 10..14 emptied."""
    annotations = DEV_DATA / 'Annotations' / '480p'
    files = sorted((annotations / 'car-shadow').glob('*.png'))
    expected_j, degraded = [], {}
    for index, path in enumerate(files):
        gt = read_annotation(path)
        moved = np.zeros_like(gt)
        moved[6:, 10:] = gt[:-6, :-10]
        if 10 <= index <= 14:
            moved[:] = False
        write_png(tmp_path / 'car-shadow' / path.name, moved.astype(np.uint8) * 255)
        if 0 < index < len(files) - 1:
            expected_j.append((gt & moved).sum() / (gt | moved).sum())
            degraded[path.name] = (gt, moved)
    record = evaluate_sequences(tmp_path, annotations, ['car-shadow'])[0]
    assert record.j_per_frame == pytest.approx(expected_j)
    assert record.j_per_frame[9:14] == [0.0] * 5 and record.f_per_frame[9:14] == [0.0] * 5
    assert 0.5 < record.J_mean < 0.95 and 0.2 < record.F_mean < 0.95
    assert record.J_recall == pytest.approx(np.mean(np.array(expected_j) > 0.5))
    for name in ('00001.png', '00020.png', '00038.png'):
        index = record.frames.index(name[:-4])
        assert record.f_per_frame[index] == pytest.approx(distance_f(*degraded[name]))


def test_mask_reading_rules(tmp_path):
    from evaluation.davis import read_result
    grey = np.array([[0, 1, 127, 128, 255]], np.uint8)
    write_png(tmp_path / 'grey.png', grey)
    assert read_annotation(tmp_path / 'grey.png').tolist() == [[False, True, True, True, True]]  # non-zero
    assert read_result(tmp_path / 'grey.png').tolist() == [[False, False, False, True, True]]    # >= 0.5
    assert read_result(tmp_path / 'grey.png', threshold=1 / 255).tolist() == [[False, True, True, True, True]]
    colour = np.zeros((1, 2, 3), np.uint8)
    colour[0, 1] = (0, 0, 128)                       # DAVIS palette red, as OpenCV expands it
    write_png(tmp_path / 'colour.png', colour)
    assert read_result(tmp_path / 'colour.png').tolist() == [[False, True]]
    write_png(tmp_path / 'deep.png', np.array([[0, 32767, 32768, 65535]], np.uint16))
    assert read_result(tmp_path / 'deep.png').tolist() == [[False, False, True, True]]
    (tmp_path / 'broken.png').write_bytes(b'not a png')
    with pytest.raises(InputError, match='broken.png'):
        read_result(tmp_path / 'broken.png')
