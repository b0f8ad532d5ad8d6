"""The benchmark layouts and protocols (evaluation/datasets/): tiny synthetic releases of SegTrack-v2
and YouTube-Objects, scored against values worked out by hand, and their paper tables."""
import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.io import savemat

from evaluation.datasets import open_benchmark
from evaluation.datasets.base import IoUScores
from evaluation.datasets.davis2016 import Davis2016
from evaluation.datasets.evaluate import evaluate_results
from evaluation.datasets.corloc import box_iou, box_of_mask
from evaluation.scores import SequenceScores
from ike_utils.errors import InputError
from pipeline.dataset import write_dataset_report

REPO = Path(__file__).resolve().parents[1]
H, W = 4, 6


def block(rows, cols, shape=(H, W)):
    """A 0/255 mask with the given row and column ranges set."""
    mask = np.zeros(shape, np.uint8)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = 255
    return mask


def write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


EMPTY = np.zeros((H, W), np.uint8)
FRAME = np.full((H, W, 3), 100, np.uint8)


def segtrack(root):
    """Two videos: 'solo' (00000.jpg, one object) and 'duo' (duo_00000.png frames, two objects in
    GroundTruth/duo/1/ and /2/, one as .bmp, object 2 absent from frame 1). Returns the results root,
    with the results named by frame index, and the IoU of every frame worked out by hand."""
    for index in range(3):
        write(root / 'JPEGImages' / 'solo' / f'{index:05d}.jpg', FRAME)
        write(root / 'JPEGImages' / 'duo' / f'duo_{index:05d}.png', FRAME)
    (root / 'JPEGImages' / 'solo' / 'notes.txt').write_text('not a frame')
    a, b = block((0, 1), (0, 2)), block((2, 3), (3, 5))
    truth = {'solo': [block((0, 2), (0, 2)), block((0, 2), (0, 2)), EMPTY],
             'duo/1': [a, a, a], 'duo/2': [b, None, a]}
    for folder, masks in truth.items():
        for index, mask in enumerate(masks):
            if mask is not None:
                name = f'{index:05d}.png' if folder == 'solo' else f'duo_{index:05d}.' + ('bmp' if '2' in folder else 'png')
                write(root / 'GroundTruth' / folder / name, mask)
    # a grey (anti-aliased) ground-truth pixel counts as foreground, as any non-zero value
    grey = block((0, 2), (0, 2))
    grey[1, 1] = 128
    write(root / 'GroundTruth' / 'solo' / '00000.png', grey)
    results = {'solo': [block((0, 2), (0, 2)), block((0, 1), (0, 2)), EMPTY],
               'duo': [a, a | b, a]}
    for name, masks in results.items():
        for index, mask in enumerate(masks):
            write(root / 'results' / name / f'{index:05d}.png', mask)
    # solo: 4/4, 2/4, both empty = 1; duo: union a|b (4 px) vs a = 0.5, a vs a|b = 0.5, a|a vs a = 1
    return root / 'results', {'solo': [1.0, 0.5, 1.0], 'duo': [0.5, 0.5, 1.0]}


def test_segtrack_union_of_objects_and_every_frame_counts(tmp_path):
    results, expected = segtrack(tmp_path / 'st')
    benchmark = open_benchmark('segtrackv2', tmp_path / 'st' / 'GroundTruth')  # the GroundTruth folder is accepted
    assert [s.name for s in benchmark.sequences()] == ['duo', 'solo']
    duo = benchmark.sequences(['duo'])[0]
    frames = benchmark.scored_frames(duo)
    assert [(i, f.name, [m.parent.name for m in masks]) for i, f, masks in frames] == \
        [(0, 'duo_00000.png', ['1', '2']), (1, 'duo_00001.png', ['1']), (2, 'duo_00002.png', ['1', '2'])]
    records = evaluate_results(benchmark, results)
    assert {r.name: r.iou_per_frame for r in records} == expected
    assert records[0].frames == ['duo_00000', 'duo_00001', 'duo_00002']
    header, rows = benchmark.paper_table({'graph 1': records})
    assert header == ['sequence', 'graph 1 IoU']
    assert rows[-1][0] == 'mean' and rows[-1][1] == pytest.approx(np.mean([2 / 3, 2.5 / 3]))


def test_segtrack_results_named_like_the_frames(tmp_path):
    results, expected = segtrack(tmp_path / 'st')
    for index in range(3):
        (results / 'duo' / f'{index:05d}.png').rename(results / 'duo' / f'duo_{index:05d}.png')
    benchmark = open_benchmark('segtrackv2', tmp_path / 'st')
    records = evaluate_results(benchmark, results, ['duo'], naming='frame')
    assert records[0].iou_per_frame == expected['duo']
    with pytest.raises(InputError, match='00000.png does not exist'):
        evaluate_results(benchmark, results, ['duo'])


def test_segtrack_bad_layouts_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match='JPEGImages'):
        open_benchmark('segtrackv2', tmp_path)
    results, _ = segtrack(tmp_path / 'st')
    benchmark = open_benchmark('segtrackv2', tmp_path / 'st')
    with pytest.raises(InputError, match="unknown sequence 'omega'"):
        benchmark.sequences(['omega'])
    write(tmp_path / 'st' / 'GroundTruth' / 'solo' / '00009.png', EMPTY)
    with pytest.raises(InputError, match='00009 .* has no frame'):
        benchmark.score(benchmark.sequences(['solo'])[0], results / 'solo')


def test_segtrack_evaluate_command_writes_the_paper_table(tmp_path):
    results, _ = segtrack(tmp_path / 'st')
    out = subprocess.run([sys.executable, str(REPO / 'evaluate.py'), '--dataset', 'segtrackv2', '--results',
                          str(results), '--annotations', str(tmp_path / 'st' / 'GroundTruth'), '--csv',
                          str(tmp_path / 'table.csv'), '--quiet'], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(open(tmp_path / 'table.csv')))
    assert rows[0] == ['sequence', 'results IoU']
    assert {row[0]: float(row[1]) for row in rows[1:]} == pytest.approx({'duo': 2 / 3, 'solo': 2.5 / 3, 'mean': 0.75})
    bad = subprocess.run([sys.executable, str(REPO / 'evaluate.py'), '--dataset', 'segtrackv2', '--results',
                          str(results), '--annotations', str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and bad.stderr.startswith('error: ') and len(bad.stderr.strip().splitlines()) == 1


def test_boxes_of_masks_and_their_overlap():
    mask = np.zeros((10, 10), bool)
    mask[4:9, 2:6] = True
    assert box_of_mask(mask) == (3, 5, 6, 9)  # 1-based inclusive, as the release's boxes
    assert box_of_mask(np.zeros((3, 3), bool)) is None
    assert box_iou((1, 1, 2, 2), (2, 2, 3, 3)) == pytest.approx(1 / 7)
    assert box_iou((1, 1, 2, 2), (3, 3, 4, 4)) == 0.0
    assert box_iou((5, 5, 9, 9), (5, 5, 10, 10)) == pytest.approx(25 / 36)


def youtube_objects(root):
    """aeroplane/0001/001: boxes on frames 2, 3, 4 and masks on frames 1, 3; cat/0002/001: a box on
    frame 1 and a mask on frame 2. Masks in youtube_masks/ beside the class folders."""
    size = (10, 10)
    shots = {'aeroplane': root / 'aeroplane' / 'data' / '0001' / 'shots' / '001',
             'cat': root / 'cat' / 'data' / '0002' / 'shots' / '001'}
    for shot in shots.values():
        for number in range(1, 5):
            write(shot / f'frame{number:04d}.jpg', np.full((*size, 3), 90, np.uint8))
    # a box file the way MATLAB writes a 1 x N cell of [x0 y0 x1 y1] boxes
    def boxes(path, *items):
        cell = np.empty((1, len(items)), dtype=object)
        for k, item in enumerate(items):
            cell[0, k] = np.asarray(item, np.float64).reshape(1, 4)
        savemat(str(path), {'coor': cell})
    plane, cat = shots['aeroplane'], shots['cat']
    boxes(plane / 'frame0002.jpg_sticks.mat', (3, 3, 6, 6))
    boxes(plane / 'frame0003.jpg_sticks.mat', (1, 1, 4, 4))
    boxes(plane / 'frame0004.jpg_sticks.mat', (1, 1, 2, 2), (10, 10, 5, 5))  # corners in either order
    boxes(cat / 'frame0001.jpg_sticks.mat', (1, 1, 4, 4))
    labels = root / 'youtube_masks' / '{}' / 'data' / '{}' / 'shots' / '001' / 'labels'
    plane_labels, cat_labels = Path(str(labels).format('aeroplane', '0001')), Path(str(labels).format('cat', '0002'))
    write(plane_labels / '00001.jpg', block((0, 5), (0, 5), size))
    write(plane_labels / '00003.jpg', block((0, 4), (0, 4), size))
    write(cat_labels / '00002.jpg', block((0, 0), (0, 0), size))
    # results by frame index: aeroplane 0: rows 0-4 x cols 0-9; 1: the box (3,3,6,6) exactly;
    # 2: empty; 3: rows 4-8 x cols 4-8 -> box (5,5,9,9); cat 0: box (7,7,10,10); 1: empty
    results = root / 'results'
    plane_results = [block((0, 5), (0, 10), size), block((2, 6), (2, 6), size), block((0, 0), (0, 0), size),
                     block((4, 9), (4, 9), size)]
    cat_results = [block((6, 10), (6, 10), size), block((0, 0), (0, 0), size)] + [block((0, 0), (0, 0), size)] * 2
    for name, masks in (('aeroplane_0001_001', plane_results), ('cat_0002_001', cat_results)):
        for index, mask in enumerate(masks):
            write(results / name / f'{index:05d}.png', mask)
    return results


def test_youtube_objects_corloc_and_mask_iou_per_class(tmp_path):
    results = youtube_objects(tmp_path / 'yto')
    benchmark = open_benchmark('youtube-objects', tmp_path / 'yto')
    assert [(s.name, s.group) for s in benchmark.sequences()] == [('aeroplane_0001_001', 'aeroplane'),
                                                                  ('cat_0002_001', 'cat')]
    plane, cat = evaluate_results(benchmark, results)
    # frame 2: box (3,3,6,6) exactly -> hit; frame 3: empty mask -> miss; frame 4: (5,5,9,9) vs (5,5,10,10) = 25/36 -> hit
    assert plane.box_frames == ['frame0002', 'frame0003', 'frame0004'] and plane.box_hits == [True, False, True]
    # frame 1: 25 px truth inside a 50 px result -> 0.5; frame 3: 16 px truth, empty result -> 0
    assert plane.frames == ['frame0001', 'frame0003'] and plane.iou_per_frame == [0.5, 0.0]
    assert cat.box_hits == [False] and cat.iou_per_frame == [1.0]  # no overlap; both masks empty
    header, rows = benchmark.paper_table({'graph 1': [plane, cat]})
    assert header == ['class', 'graph 1 IoU', 'graph 1 CorLoc']
    assert rows[0] == ['aeroplane', 0.25, pytest.approx(2 / 3)] and rows[1] == ['cat', 1.0, 0.0]
    assert rows[2][0] == 'mean' and rows[2][1:] == pytest.approx([0.625, 1 / 3])


def test_youtube_objects_layout_errors(tmp_path):
    with pytest.raises(InputError, match='class folders'):
        open_benchmark('youtube-objects', tmp_path)
    results = youtube_objects(tmp_path / 'yto')
    (tmp_path / 'yto' / 'aeroplane' / 'data' / '0001' / 'shots' / '001' / 'frame0002.jpg_sticks.mat').write_text('junk')
    benchmark = open_benchmark('youtube-objects', tmp_path / 'yto')
    with pytest.raises(InputError, match='frame0002.jpg_sticks.mat'):
        benchmark.score(benchmark.sequences(['aeroplane_0001_001'])[0], results / 'aeroplane_0001_001')


def test_davis_layout_lists_its_videos(tmp_path):
    with pytest.raises(InputError, match='JPEGImages'):
        Davis2016(tmp_path)
    (tmp_path / 'JPEGImages' / '480p' / 'alpha').mkdir(parents=True)
    assert [s.name for s in Davis2016(tmp_path).sequences()] == ['alpha']
    assert math.isnan(Davis2016.paper_table({'graph 1': []})[1][0][1])


def test_dataset_report_writes_the_youtube_objects_table_per_stage(tmp_path):
    """The report of a YouTube-Objects run: IoU and CorLoc per class and stage, markdown and CSV."""
    youtube_objects(tmp_path / 'yto')
    benchmark = open_benchmark('youtube-objects', tmp_path / 'yto')
    out = tmp_path / 'out'
    stages = {'aeroplane_0001_001': {'graph 1': ([0.5, 0.0], [True, False, True]), 'network 1': ([1.0, 1.0], [True] * 3)},
              'cat_0002_001': {'graph 1': ([1.0], [False]), 'network 1': ([0.0], [True])}}
    for name, by_stage in stages.items():
        (out / name).mkdir(parents=True)
        group = name.split('_')[0]
        scores = {label: IoUScores(name, group, ['f'] * len(ious), ious, ['b'] * len(hits), hits).to_dict()
                  for label, (ious, hits) in by_stage.items()}
        (out / name / 'scores.json').write_text(json.dumps(scores))
    write_dataset_report(benchmark, out)
    rows = list(csv.reader(open(out / 'report' / 'table.csv')))
    assert rows[0] == ['class', 'graph 1 IoU', 'graph 1 CorLoc', 'network 1 IoU', 'network 1 CorLoc']
    values = {row[0]: [float(v) for v in row[1:]] for row in rows[1:]}
    assert values['aeroplane'] == pytest.approx([0.25, 2 / 3, 1.0, 1.0])
    assert values['cat'] == pytest.approx([1.0, 0.0, 0.0, 1.0])
    assert values['mean'] == pytest.approx([0.625, 1 / 3, 0.5, 1.0])
    assert '| aeroplane | 0.250 | 0.667 | 1.000 | 1.000 |' in (out / 'report' / 'table.md').read_text()
    assert '## YouTube-Objects' in (out / 'report' / 'report.md').read_text()


def test_davis_paper_table_is_the_mean_over_videos_per_stage():
    records = [SequenceScores('a', ['1'], [0.6], [0.4], 0.6, 1.0, 0.1, 0.4, 0.0, 0.2),
               SequenceScores('b', ['1'], [0.2], [0.8], 0.2, 0.0, 0.3, 0.8, 1.0, 0.0)]
    header, rows = Davis2016.paper_table({'graph 1': records})
    assert header == ['stage', 'J&F mean', 'J mean', 'J recall', 'J decay', 'F mean', 'F recall', 'F decay']
    assert rows == [['graph 1', pytest.approx(0.5), pytest.approx(0.4), 0.5, pytest.approx(0.2), pytest.approx(0.6),
                     0.5, pytest.approx(0.1)]]
