"""The whole loop (pipeline/, run_ike.py, demo.py) on tiny synthetic clips: layout, final masks,
resuming, dataset mode with shards and workers, the report, and bad input."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ike_utils.config import load_config
from ike_utils.errors import InputError
from ike_utils.synthetic import make_clip, write_clip
from evaluation.datasets.davis2016 import Davis2016
from pipeline.dataset import parse_shard, shard
from pipeline.run import run_many_videos, run_one_video, run_video_file
from pipeline.video import LoopOptions, run_video
from pipeline.video_file import FOLDER_FPS, DecodeOptions

from pipeline_helpers import tiny_config

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, OMP_NUM_THREADS='1')


pytestmark = pytest.mark.usefixtures('single_thread')  # conftest.py: one intra-op thread


def clip(folder, n_frames=8, seed=0):
    return write_clip(make_clip(n_frames=n_frames, height=48, width=80, seed=seed), folder, with_flows=False)


OPTIONS = LoopOptions(cycles=2, flow_method='dis', seed=0)


def test_one_video_layout_final_masks_and_scores(tmp_path):
    video = clip(tmp_path / 'clip')
    config = tiny_config(tmp_path / 'tiny.ini')
    scores = run_one_video(video / 'frames', tmp_path / 'out', config, OPTIONS, 'cpu', video / 'masks', quiet=True)
    out = tmp_path / 'out'
    for folder in ('flow/fwd_of', 'flow/bwd_of', 'cycle_1/graph/iter_9', 'cycle_1/network/results_pt/epoch_00002',
                   'cycle_2/graph/iter_9', 'final/masks', 'final/soft', 'final/soft_pt'):
        assert (out / folder).is_dir(), folder
    assert not (out / 'cycle_2' / 'network').exists()  # the last stage is a graph pass
    # the second graph pass read the network's predictions as node features
    record = json.loads((out / 'cycle_2' / 'graph' / 'stage.json').read_text())
    assert record['sources']['features'] == [str(out / 'cycle_1' / 'network' / 'results_pt' / 'epoch_00002')]
    assert record['settings']['cue_half_chain'] == 1
    masks = sorted((out / 'final' / 'masks').glob('*.png'))
    assert len(masks) == 8
    mask = cv2.imread(str(masks[3]), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == (48, 80) and set(np.unique(mask)) <= {0, 255}
    soft = torch.load(out / 'final' / 'soft_pt' / '00003.pt')
    assert soft.shape == (32, 48, 1)
    assert list(scores) == ['graph 1', 'network 1', 'graph 2']
    assert scores['graph 2'].J_mean > 0.5  # an easy clip: the object is found
    assert (out / 'scores.json').is_file()


STAGES_3 = ('flow', 'cycle_1/graph', 'cycle_1/network', 'cycle_2/graph', 'cycle_2/network', 'cycle_3/graph',
            'final')


def record_stamps(out, stages=STAGES_3):
    """{stage folder: mtime of its record}: a record is rewritten only when its stage is redone."""
    return {stage: (out / stage / 'stage.json').stat().st_mtime_ns for stage in stages}


def redone(before, after):
    return [stage for stage in before if before[stage] != after[stage]]


def final_masks(out):
    return {p.name: cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((out / 'final' / 'masks').glob('*.png'))}


@pytest.fixture(scope='module')
def three_cycle_run(tmp_path_factory):
    """A finished 3-cycle run (graph, network, graph, network, graph, final) to copy."""
    base = tmp_path_factory.mktemp('three_cycles')
    video = clip(base / 'clip')
    config = tiny_config(base / 'tiny.ini')
    run_video(video / 'frames', base / 'out', load_config(config), THREE_CYCLES, torch.device('cpu'))
    return video, config, base / 'out'


THREE_CYCLES = LoopOptions(cycles=3, flow_method='dis', seed=0)


def copy_run(three_cycle_run, tmp_path):
    video, config, out = three_cycle_run
    shutil.copytree(out, tmp_path / 'out', copy_function=shutil.copy2)
    shutil.copy(config, tmp_path / 'tiny.ini')
    return video, tmp_path / 'tiny.ini', tmp_path / 'out'


def test_rerun_with_nothing_changed_redoes_nothing(three_cycle_run, tmp_path):
    video, config, out = copy_run(three_cycle_run, tmp_path)
    before, masks = record_stamps(out), final_masks(out)
    run_video(video / 'frames', out, load_config(config), THREE_CYCLES, torch.device('cpu'))
    assert redone(before, record_stamps(out)) == []
    assert all(np.array_equal(masks[name], mask) for name, mask in final_masks(out).items())


def test_changed_graph_setting_redoes_every_graph_and_network_pass_and_final_but_not_the_flow(three_cycle_run,
                                                                                             tmp_path):
    video, config, out = copy_run(three_cycle_run, tmp_path)
    before = record_stamps(out)
    config.write_text(config.read_text().replace('seed_type = 0', 'seed_type = 2'))
    run_video(video / 'frames', out, load_config(config), THREE_CYCLES, torch.device('cpu'))
    assert redone(before, record_stamps(out)) == list(STAGES_3[1:])
    record = json.loads((out / 'cycle_3' / 'graph' / 'stage.json').read_text())
    assert record['state'] == 'done' and record['settings']['seed_type'] == 2


def test_an_interrupted_stage_is_redone_with_everything_after_it_and_nothing_before(three_cycle_run, tmp_path):
    video, config, out = copy_run(three_cycle_run, tmp_path)
    before = record_stamps(out)
    record = json.loads((out / 'cycle_2' / 'graph' / 'stage.json').read_text())
    (out / 'cycle_2' / 'graph' / 'stage.json').write_text(json.dumps(dict(record, state='running')))
    run_video(video / 'frames', out, load_config(config), THREE_CYCLES, torch.device('cpu'))
    assert redone(before, record_stamps(out)) == ['cycle_2/graph', 'cycle_2/network', 'cycle_3/graph', 'final']


def test_a_network_whose_teacher_was_redone_is_trained_again(three_cycle_run, tmp_path):
    """The network of cycle 1 learns from the graph pass before it: once that pass is redone, the
    network must not be reused, even though its own settings did not change."""
    video, config, out = copy_run(three_cycle_run, tmp_path)
    before = record_stamps(out)
    (out / 'cycle_1' / 'graph' / 'stage.json').unlink()
    run_video(video / 'frames', out, load_config(config), THREE_CYCLES, torch.device('cpu'))
    assert redone(before, record_stamps(out)) == list(STAGES_3[1:])


def test_a_retrained_network_redoes_the_later_graph_passes_and_final(three_cycle_run, tmp_path):
    """Another network seed (or any [Network Module] key): the networks are trained again, and what
    learnt from them too; the flow and the first graph pass are kept."""
    video, config, out = copy_run(three_cycle_run, tmp_path)
    before, masks = record_stamps(out), final_masks(out)
    run_video(video / 'frames', out, load_config(config), LoopOptions(cycles=3, flow_method='dis', seed=1),
              torch.device('cpu'))
    assert redone(before, record_stamps(out)) == list(STAGES_3[2:])
    assert any(not np.array_equal(masks[name], mask) for name, mask in final_masks(out).items())


def make_dataset(root, names=('alpha', 'beta', 'gamma')):
    for seed, name in enumerate(names):
        video = clip(root / 'tmp' / name, n_frames=6, seed=seed)
        (root / 'JPEGImages' / '480p').mkdir(parents=True, exist_ok=True)
        (root / 'Annotations' / '480p').mkdir(parents=True, exist_ok=True)
        (video / 'frames').rename(root / 'JPEGImages' / '480p' / name)
        (video / 'masks').rename(root / 'Annotations' / '480p' / name)
    return root


def test_dataset_mode_with_workers_writes_every_video_and_the_report(tmp_path):
    root = make_dataset(tmp_path / 'davis')
    config = tiny_config(tmp_path / 'tiny.ini')
    names = run_many_videos(root, tmp_path / 'out', config, OPTIONS, sequences=['alpha', 'gamma'],
                            workers=2, device='cpu', quiet=True)
    assert names == ['alpha', 'gamma']
    for name in names:
        assert len(list((tmp_path / 'out' / name / 'final' / 'masks').glob('*.png'))) == 6
    assert not (tmp_path / 'out' / 'beta').exists()
    report = (tmp_path / 'out' / 'report' / 'report.md').read_text()
    assert 'alpha' in report and 'gamma' in report and 'graph 2' in report
    assert (tmp_path / 'out' / 'report' / 'scores_by_cycle.png').is_file()
    table = [line.split(',') for line in (tmp_path / 'out' / 'report' / 'table.csv').read_text().splitlines()]
    assert [row[0] for row in table] == ['stage', 'graph 1', 'network 1', 'graph 2'] and len(table[1]) == 8
    assert len(list((tmp_path / 'out' / 'report' / 'contact_sheets').iterdir())) == 2


def test_segtrack_dataset_with_two_objects_writes_the_paper_table(tmp_path):
    """A SegTrack-v2 release with one two-object video (<seq>_00000.png frames): the run scores every
    stage against the union of the objects, and report/table.csv holds IoU per video and the mean."""
    video = clip(tmp_path / 'tmp', n_frames=6)
    root = tmp_path / 'SegTrackv2'
    for index, frame in enumerate(sorted((video / 'frames').iterdir())):
        mask = cv2.imread(str(video / 'masks' / f'{index:05d}.png'), cv2.IMREAD_GRAYSCALE)
        halves = [mask.copy(), mask.copy()]
        halves[0][:, 40:], halves[1][:, :40] = 0, 0
        (root / 'JPEGImages' / 'pair').mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / 'JPEGImages' / 'pair' / f'pair_{index:05d}.png'), cv2.imread(str(frame)))
        for number, half in enumerate(halves, 1):
            (root / 'GroundTruth' / 'pair' / str(number)).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / 'GroundTruth' / 'pair' / str(number) / f'pair_{index:05d}.png'), half)
    names = run_many_videos(root, tmp_path / 'out', tiny_config(tmp_path / 'tiny.ini'), OPTIONS, device='cpu',
                            quiet=True, dataset='segtrackv2')
    assert names == ['pair']
    scores = json.loads((tmp_path / 'out' / 'pair' / 'scores.json').read_text())
    assert list(scores) == ['graph 1', 'network 1', 'graph 2']
    assert len(scores['graph 2']['frames']) == 6  # every frame counts, the first and last too
    rows = [line.split(',') for line in (tmp_path / 'out' / 'report' / 'table.csv').read_text().splitlines()]
    assert rows[0] == ['sequence', 'graph 1 IoU', 'network 1 IoU', 'graph 2 IoU']
    assert rows[1][0] == 'pair' and rows[2][0] == 'mean' and rows[1][1:] == rows[2][1:]
    assert float(rows[1][3]) == pytest.approx(np.mean(scores['graph 2']['iou_per_frame']), abs=1e-6)
    assert float(rows[1][3]) > 0.5  # the union of the two halves is the object, and it is found
    report = (tmp_path / 'out' / 'report' / 'report.md').read_text()
    assert '## SegTrack-v2' in report and '| pair |' in report


def test_youtube_objects_v22_dataset_runs_each_shot_of_a_class_folder(tmp_path):
    """A YouTube-Objects v2.2 release: one class folder holds two shots (frames 1-2 and 3-8); the
    boxed shot runs from OUT/<video>/frames/ (links to its frames), its two box-annotated frames are
    scored at every stage, and report/table.csv holds CorLoc per class."""
    from scipy.io import savemat
    from evaluation.datasets.corloc import box_of_mask
    video = clip(tmp_path / 'tmp', n_frames=6)
    root = tmp_path / 'YTO2'
    (root / 'car').mkdir(parents=True)
    frames = sorted((video / 'frames').iterdir())
    for number, frame in enumerate([frames[0], frames[0], *frames], 1):
        shutil.copy(frame, root / 'car' / f'{number:08d}.jpg')
    (root / 'Ranges').mkdir()
    savemat(str(root / 'Ranges' / 'ranges_car.mat'), {'ranges': np.array([[1, 3], [2, 8], [1, 1]], np.float64)})
    boxes = np.empty((1, 2), dtype=[('id', object), ('bb', object)])
    for k, index in enumerate((1, 4)):
        mask = cv2.imread(str(video / 'masks' / f'{index:05d}.png'), cv2.IMREAD_GRAYSCALE) > 0
        boxes[0, k] = (f'car{index + 3:08d}', np.array([box_of_mask(mask)], np.float64))
    (root / 'GroundTruth' / 'car').mkdir(parents=True)
    savemat(str(root / 'GroundTruth' / 'car' / 'bb_gtTest_car.mat'), {'bb_gtTest': boxes})
    savemat(str(root / 'GroundTruth' / 'car' / 'bb_gtTraining_car.mat'), {'bb_gtTraining': boxes[:, :0]})
    names = run_many_videos(root, tmp_path / 'out', tiny_config(tmp_path / 'tiny.ini'), OPTIONS, device='cpu',
                            quiet=True, dataset='youtube-objects-v2.2')
    assert names == ['car_0001_0002']
    run = tmp_path / 'out' / 'car_0001_0002'
    assert sorted(p.name for p in (run / 'frames').iterdir()) == [f'{n:08d}.jpg' for n in range(3, 9)]
    assert len(list((run / 'final' / 'masks').glob('*.png'))) == 6
    scores = json.loads((run / 'scores.json').read_text())
    assert list(scores) == ['graph 1', 'network 1', 'graph 2']
    assert scores['graph 2']['box_frames'] == ['00000004', '00000007']
    assert scores['graph 2']['box_hits'] == [True, True]  # the moving object is found and boxed
    rows = [line.split(',') for line in (tmp_path / 'out' / 'report' / 'table.csv').read_text().splitlines()]
    assert rows[0] == ['class', 'graph 1 IoU', 'graph 1 CorLoc', 'network 1 IoU', 'network 1 CorLoc',
                       'graph 2 IoU', 'graph 2 CorLoc']
    assert rows[1][0] == 'car' and float(rows[1][6]) == pytest.approx(np.mean(scores['graph 2']['box_hits']))
    assert '## YouTube-Objects v2.2' in (tmp_path / 'out' / 'report' / 'report.md').read_text()


def test_shards_split_the_videos_between_tasks():
    names = [f'v{i}' for i in range(7)]
    parts = [shard(names, i, 3) for i in (1, 2, 3)]
    assert sorted(sum(parts, [])) == names and all(parts)
    assert parse_shard('2/3') == (2, 3)
    for bad in ('0/3', '4/3', 'x', '1-3'):
        with pytest.raises(InputError):
            parse_shard(bad)


def test_dataset_root_and_sequence_checks(tmp_path):
    with pytest.raises(InputError, match='JPEGImages'):
        Davis2016(tmp_path)
    root = make_dataset(tmp_path / 'davis', names=('alpha',))
    assert [s.name for s in Davis2016(root).sequences()] == ['alpha']
    with pytest.raises(InputError, match="unknown sequence 'omega'"):
        Davis2016(root).sequences(['omega'])


@pytest.mark.parametrize('case', ['missing_frames', 'empty_frames', 'no_davis_layout', 'unknown_sequence'])
def test_command_line_bad_input_is_one_line_and_exit_status_2(tmp_path, case):
    config = tiny_config(tmp_path / 'tiny.ini')
    (tmp_path / 'empty').mkdir()
    root = make_dataset(tmp_path / 'davis', names=('alpha',)) if case == 'unknown_sequence' else tmp_path / 'empty'
    source = {'missing_frames': ['--frames_path', str(tmp_path / 'nowhere')],
              'empty_frames': ['--frames_path', str(tmp_path / 'empty')],
              'no_davis_layout': ['--dataset_root', str(tmp_path / 'empty')],
              'unknown_sequence': ['--dataset_root', str(root), '--sequences', 'omega']}[case]
    result = subprocess.run([sys.executable, str(REPO / 'run_ike.py'), *source, '--out_path', str(tmp_path / 'out'),
                             '--config', str(config), '--flow_method', 'dis', '--device', 'cpu', '--quiet'],
                            capture_output=True, text=True, cwd=REPO, env=ENV)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and 'Traceback' not in result.stderr
    assert {'missing_frames': 'nowhere', 'empty_frames': 'empty', 'no_davis_layout': 'JPEGImages',
            'unknown_sequence': 'omega'}[case] in lines[0]
    assert not (tmp_path / 'out' / 'final').exists()


def test_raft_without_weights_points_to_dis(tmp_path):
    video = clip(tmp_path / 'clip', n_frames=3)
    result = subprocess.run([sys.executable, str(REPO / 'run_ike.py'), '--frames_path', str(video / 'frames'),
                             '--out_path', str(tmp_path / 'out'), '--models', str(tmp_path / 'none.pth'),
                             '--device', 'cpu', '--quiet'], capture_output=True, text=True, cwd=REPO, env=ENV)
    assert result.returncode == 2
    assert '--method dis' in result.stderr or 'dis' in result.stderr.splitlines()[-1]


def test_demo_runs_the_loop_and_prints_j(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / 'demo.py'), '--out_path', str(tmp_path / 'demo'),
                             '--frames', '8', '--cycles', '2', '--device', 'cpu', '--quiet'],
                            capture_output=True, text=True, cwd=REPO, env=ENV, timeout=300)
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert 'J = ' in last
    assert float(last.split('J = ')[1].split()[0]) > 0.5
    assert (tmp_path / 'demo' / 'overlay.png').is_file()


def write_mp4(path, frames, fps=10.0):
    """frames (n x H x W x 3 uint8 BGR) as an mp4 file."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def video_frames_and_rate(path):
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    return count, capture.get(cv2.CAP_PROP_FPS)


def test_video_file_is_decoded_once_segmented_and_overlaid(tmp_path):
    video = write_mp4(tmp_path / 'clip.mp4', make_clip(n_frames=9, height=48, width=80).frames)
    config = tiny_config(tmp_path / 'tiny.ini')
    out = tmp_path / 'out'
    run_video_file(video, out, config, OPTIONS, DecodeOptions(max_frames=7), 'cpu', quiet=True)
    assert len(list((out / 'frames').glob('*.jpg'))) == 7 and len(list((out / 'final' / 'masks').glob('*.png'))) == 7
    assert video_frames_and_rate(out / 'final' / 'overlay.mp4') == (7, 10.0)
    decoded = (out / 'frames' / '00000.jpg').stat().st_mtime_ns
    before = record_stamps(out, STAGES_3[:2] + ('cycle_2/graph', 'final'))
    run_video_file(video, out, config, OPTIONS, DecodeOptions(max_frames=7), 'cpu', quiet=True)
    assert redone(before, record_stamps(out, before)) == [] and \
        (out / 'frames' / '00000.jpg').stat().st_mtime_ns == decoded  # resumed: nothing redone
    # other decoding options: new frames, so new flows and every stage again
    run_video_file(video, out, config, OPTIONS, DecodeOptions(stride=2, max_side=40), 'cpu', quiet=True)
    assert redone(before, record_stamps(out, before)) == list(before)
    assert cv2.imread(str(out / 'frames' / '00004.jpg')).shape == (24, 40, 3)
    assert not (out / 'frames' / '00005.jpg').exists()  # frames 0, 2, 4, 6, 8 of 9
    assert video_frames_and_rate(out / 'final' / 'overlay.mp4') == (5, 5.0)
    overlay = cv2.VideoCapture(str(out / 'final' / 'overlay.mp4')).read()[1]
    assert overlay.shape == (24, 40, 3)


def test_frames_folder_run_writes_the_overlay_video_when_asked(tmp_path):
    video = clip(tmp_path / 'clip', n_frames=5)
    run_one_video(video / 'frames', tmp_path / 'out', tiny_config(tmp_path / 'tiny.ini'), OPTIONS, 'cpu',
                  quiet=True, overlay_fps=FOLDER_FPS)
    count, rate = video_frames_and_rate(tmp_path / 'out' / 'final' / 'overlay.mp4')
    assert (count, rate) == (5, FOLDER_FPS)


@pytest.mark.parametrize('case', ['not_a_video', 'one_frame', 'missing'])
def test_bad_video_file_is_one_line_and_exit_status_2(tmp_path, case):
    path = tmp_path / 'clip.mp4'
    if case == 'not_a_video':
        path.write_text('this is not a video')
    elif case == 'one_frame':
        write_mp4(path, make_clip(n_frames=1, height=48, width=80).frames)
    result = subprocess.run([sys.executable, str(REPO / 'run_ike.py'), '--video', str(path), '--out_path',
                             str(tmp_path / 'out'), '--config', str(tiny_config(tmp_path / 'tiny.ini')),
                             '--flow_method', 'dis', '--device', 'cpu', '--quiet'],
                            capture_output=True, text=True, cwd=REPO, env=ENV)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: video file ') and str(path) in lines[0]
    assert {'not_a_video': 'cannot be decoded', 'one_frame': 'gave 1 frame', 'missing': 'does not exist'}[case] in lines[0]
    assert not (tmp_path / 'out' / 'frames').exists()
