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
from evaluation.datasets.base import IoUScores, Sequence
from evaluation.datasets.davis2016 import Davis2016
from evaluation.datasets.evaluate import evaluate_results
from evaluation.datasets.youtube_objects_v22 import YouTubeObjectsV22
from evaluation.datasets.corloc import box_iou, box_of_mask
from evaluation.scores import SequenceScores
from ike_utils.errors import InputError
from pipeline.dataset import frames_folder, write_dataset_report

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


def v22_box_set(path, variable, entries):
    """A bb_gt*_<class>.mat file as released: a 1 x N struct of (frame id, K x 4 boxes)."""
    data = np.empty((1, len(entries)), dtype=[('id', object), ('bb', object)])
    for k, (frame_id, boxes) in enumerate(entries):
        data[0, k] = (frame_id, np.asarray(boxes, np.float64).reshape(-1, 4))
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(str(path), {variable: data})


def v22_ranges(path, shots):
    """Ranges/ranges_<class>.mat: one column (first frame, last frame, video) per shot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(str(path), {'ranges': np.asarray(shots, np.float64).T})


def youtube_objects_v22(root):
    """aeroplane: frames 1-8 in shots 1-3 (video 1), 4-6 and 7-8 (video 2), boxes on frames 2
    (training), 4, 5 and 6 (test); cat: shots 1-4 and 4-6 (touching at frame 4), boxes on frames 1
    (training), 3 and 4 (test). Results by index within the shot; returns the results root."""
    size = (10, 10)
    for cls, count in (('aeroplane', 8), ('cat', 6)):
        for number in range(1, count + 1):
            write(root / cls / f'{number:08d}.jpg', np.full((*size, 3), 90, np.uint8))
    v22_ranges(root / 'Ranges' / 'ranges_aeroplane.mat', [(1, 3, 1), (4, 6, 2), (7, 8, 2)])
    v22_ranges(root / 'Ranges' / 'ranges_cat.mat', [(1, 4, 5), (4, 6, 5)])
    truth = root / 'GroundTruth'
    v22_box_set(truth / 'aeroplane' / 'bb_gtTraining_aeroplane.mat', 'bb_gtTraining',
                [('aeroplane00000002', [(3, 3, 6, 6)])])
    v22_box_set(truth / 'aeroplane' / 'bb_gtTest_aeroplane.mat', 'bb_gtTest',
                [('aeroplane00000004', [(1, 1, 4, 4)]), ('aeroplane00000005', [(1, 1, 10, 10)]),
                 ('aeroplane00000006', [(1, 1, 2, 2), (10, 10, 5, 5)])])  # corners in either order
    v22_box_set(truth / 'cat' / 'bb_gtTraining_cat.mat', 'bb_gtTraining', [('cat00000001', [(7, 7, 10, 10)])])
    v22_box_set(truth / 'cat' / 'bb_gtTest_cat.mat', 'bb_gtTest',
                [('cat00000003', [(1, 1, 4, 4)]), ('cat00000004', [(1, 1, 4, 4)])])
    empty = block((0, 0), (0, 0), size)
    results = {
        # frame 2: the box (3,3,6,6) exactly
        'aeroplane_0001_0001': [empty, block((2, 6), (2, 6), size), empty],
        # frame 4: empty; frame 5: (1,1,2,2) in a full-frame box (4/100); frame 6: (5,5,9,9) vs (5,5,10,10)
        'aeroplane_0002_0002': [empty, block((0, 2), (0, 2), size), block((4, 9), (4, 9), size)],
        # frame 1: (7,7,10,10) exactly; frame 3: (1,1,2,2) in (1,1,4,4) (4/16); frame 4: (1,1,4,4) exactly
        'cat_0005_0001': [block((6, 10), (6, 10), size), empty, block((0, 2), (0, 2), size),
                          block((0, 4), (0, 4), size)],
    }
    for name, masks in results.items():
        for index, mask in enumerate(masks):
            write(root / 'results' / name / f'{index:05d}.png', mask)
    return root / 'results'


def test_youtube_objects_v22_corloc_per_class_on_shots_of_the_class_folders(tmp_path):
    results = youtube_objects_v22(tmp_path / 'yto2')
    benchmark = open_benchmark('youtube-objects-v2.2', tmp_path / 'yto2')
    sequences = benchmark.sequences()
    # shots without a box are no videos; cat's frame 4 lies in both of its shots and counts in the first
    assert [(s.name, s.group) for s in sequences] == [('aeroplane_0001_0001', 'aeroplane'),
                                                      ('aeroplane_0002_0002', 'aeroplane'), ('cat_0005_0001', 'cat')]
    assert [f.name for f in sequences[1].frames] == ['00000004.jpg', '00000005.jpg', '00000006.jpg']
    first, second, cat = evaluate_results(benchmark, results)
    assert first.box_frames == ['00000002'] and first.box_hits == [True]
    assert second.box_frames == ['00000004', '00000005', '00000006'] and second.box_hits == [False, False, True]
    assert cat.box_frames == ['00000001', '00000003', '00000004'] and cat.box_hits == [True, False, True]
    assert first.frames == [] and math.isnan(first.iou)  # v2.2 has boxes only
    header, rows = benchmark.paper_table({'graph 1': [first, second, cat]})
    assert header == ['class', 'graph 1 IoU', 'graph 1 CorLoc']
    assert rows[0][0] == 'aeroplane' and rows[0][2] == pytest.approx(2 / 4)
    assert rows[1][0] == 'cat' and rows[1][2] == pytest.approx(2 / 3)
    assert rows[2][0] == 'mean' and math.isnan(rows[2][1]) and rows[2][2] == pytest.approx(7 / 12)
    # results named like the frames (00000004.png) score the same
    named = tmp_path / 'named' / 'aeroplane_0002_0002'
    for index, frame in enumerate(sequences[1].frames):
        write(named / f'{frame.stem}.png', cv2.imread(str(results / 'aeroplane_0002_0002' / f'{index:05d}.png')))
    again, = evaluate_results(benchmark, tmp_path / 'named', naming='frame')
    assert again.box_hits == second.box_hits


def test_youtube_objects_v22_evaluate_command_writes_corloc_per_class(tmp_path):
    results = youtube_objects_v22(tmp_path / 'yto2')
    out = subprocess.run([sys.executable, str(REPO / 'evaluate.py'), '--dataset', 'youtube-objects-v2.2', '--results',
                          str(results), '--annotations', str(tmp_path / 'yto2'), '--csv', str(tmp_path / 'table.csv'),
                          '--quiet'], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(open(tmp_path / 'table.csv')))
    assert rows[0] == ['class', 'results IoU', 'results CorLoc']
    assert {row[0]: float(row[2]) for row in rows[1:]} == pytest.approx({'aeroplane': 0.5, 'cat': 2 / 3, 'mean': 7 / 12})


def test_youtube_objects_v22_layout_errors(tmp_path):
    youtube_objects(tmp_path / 'v1')
    with pytest.raises(InputError, match='looks like v1.0: use --dataset youtube-objects'):
        open_benchmark('youtube-objects-v2.2', tmp_path / 'v1')
    youtube_objects_v22(tmp_path / 'v2')
    with pytest.raises(InputError, match='looks like v2.2: use --dataset youtube-objects-v2.2'):
        open_benchmark('youtube-objects', tmp_path / 'v2')
    v22_box_set(tmp_path / 'v2' / 'GroundTruth' / 'cat' / 'bb_gtTest_cat.mat', 'bb_gtTest',
                [('cat00000009', [(1, 1, 4, 4)])])
    with pytest.raises(InputError, match='cat frame 9 .* lie in no shot of Ranges/ranges_cat.mat'):
        YouTubeObjectsV22(tmp_path / 'v2').sequences()
    v22_box_set(tmp_path / 'v2' / 'GroundTruth' / 'cat' / 'bb_gtTest_cat.mat', 'bb_gtTest', [('dog00000003', [1, 2, 3, 4])])
    with pytest.raises(InputError, match="names frame 'dog00000003'"):
        YouTubeObjectsV22(tmp_path / 'v2').sequences()
    (tmp_path / 'v2' / 'GroundTruth' / 'cat' / 'bb_gtTest_cat.mat').write_text('junk')
    with pytest.raises(InputError, match='bb_gtTest_cat.mat is not a YouTube-Objects v2.2 .mat'):
        YouTubeObjectsV22(tmp_path / 'v2').sequences()


def test_a_shot_gets_a_frames_folder_of_links_made_once(tmp_path):
    youtube_objects_v22(tmp_path / 'yto2')
    shot = open_benchmark('youtube-objects-v2.2', tmp_path / 'yto2').sequences(['aeroplane_0002_0002'])[0]
    folder = frames_folder(shot, tmp_path / 'run')
    assert folder == tmp_path / 'run' / 'frames'
    assert sorted(p.name for p in folder.iterdir()) == ['00000004.jpg', '00000005.jpg', '00000006.jpg']
    assert all(p.is_symlink() and p.resolve() == (tmp_path / 'yto2' / 'aeroplane' / p.name).resolve()
               for p in folder.iterdir())
    stamp = folder.stat().st_mtime_ns
    assert frames_folder(shot, tmp_path / 'run') == folder and folder.stat().st_mtime_ns == stamp  # kept
    (tmp_path / 'yto2' / 'aeroplane' / '00000005.jpg').unlink()
    (folder / '00000005.jpg').unlink()
    with pytest.raises(InputError, match='00000005.jpg of video aeroplane_0002_0002 does not exist'):
        frames_folder(shot, tmp_path / 'run')
    davis = Sequence('alpha', tmp_path / 'alpha', 'alpha')
    assert frames_folder(davis, tmp_path / 'run2') == tmp_path / 'alpha' and not (tmp_path / 'run2').exists()


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


def test_segtrack_run_folder_is_read_as_run_ike_wrote_it(tmp_path):
    """A run_ike.py output of a video whose frames are named duo_00000.png: its final masks are named
    like the frames, its graph pass's PNGs by position; evaluate.py finds both without --results_named."""
    import evaluate
    results, expected = segtrack(tmp_path / 'st')
    run = tmp_path / 'run' / 'duo'
    graph = run / 'cycle_1' / 'graph' / 'iter_19_images'
    (run / 'final' / 'masks').mkdir(parents=True)
    graph.mkdir(parents=True)
    for index in range(3):
        mask = cv2.imread(str(results / 'duo' / f'{index:05d}.png'), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(run / 'final' / 'masks' / f'duo_{index:05d}.png'), mask)
        cv2.imwrite(str(graph / f'{index:05d}.png'), 255 - mask if index == 2 else mask)
    args = ['--dataset', 'segtrackv2', '--results', str(tmp_path / 'run'), '--annotations',
            str(tmp_path / 'st' / 'GroundTruth'), '--quiet']
    assert evaluate.main(args)[0].iou_per_frame == expected['duo']
    assert evaluate.main(args + ['--stage', 'graph1'])[0].iou_per_frame[:2] == expected['duo'][:2]
    assert evaluate.main(args + ['--stage', 'graph1'])[0].iou_per_frame[2] < 1
