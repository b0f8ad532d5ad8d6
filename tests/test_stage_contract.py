"""The stage contract (ike_utils/stage.py) and the run lock, in-process: fingerprints, what makes a
stage redo, temporaries of dead runs, interrupted reruns, natural frame order, a video without
motion, NaN outputs."""
import dataclasses
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import graph_module.run
from graph_module.outputs import run_graph_stage, save_iteration
from ike_utils.config import load_config
from ike_utils.errors import InputError
from ike_utils.flow_io import read_flo
from ike_utils.frames import list_frames
from ike_utils.run_lock import LOCK_NAME, folder_lock
from ike_utils.stage import Stage, fingerprint, run_stage
from ike_utils.synthetic import make_clip, write_clip
from network_module.settings import NetworkSettings
from network_module.train import network_stage, run_network
from optical_flow.classic import dis_flow_pair
from optical_flow.extract import extract_flows
from pipeline.video import LoopOptions, graph_settings, run_video

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures('single_thread')  # conftest.py: one intra-op thread


def tiny_config(path, **changes):
    values = {'working_h': '32', 'working_w': '48', 'n_iterations': '10', 'to_save_iterations': '-1, 9',
              'n_epochs': '2', 'to_save_epochs': '2', 'base_channels': '4', 'batch_size': '2', **changes}
    text = '\n'.join(f'{line.split("=")[0].strip()} = {values[line.split("=")[0].strip()]}'
                     if '=' in line and line.split('=')[0].strip() in values else line
                     for line in (REPO / 'config.ini').read_text().splitlines())
    path.write_text(text + '\n')
    return path


def clip(folder, n_frames=6):
    return write_clip(make_clip(n_frames=n_frames, height=48, width=80), folder, with_flows=False)


# -- fingerprints -------------------------------------------------------------------------
def test_fingerprint_ignores_hidden_files_and_records_and_sees_content_when_asked(tmp_path):
    folder = tmp_path / 'f'
    folder.mkdir()
    (folder / 'a.bin').write_bytes(b'1234')
    before = fingerprint([folder])
    (folder / '.a.tmp-123.bin').write_bytes(b'half')
    (folder / 'stage.json').write_text('{}')
    (folder / LOCK_NAME).write_text('1')
    assert fingerprint([folder]) == before
    stamp = (folder / 'a.bin').stat()
    content = fingerprint([folder / 'a.bin'], content=True)
    (folder / 'a.bin').write_bytes(b'4321')  # same size; even with the old time stamp, the content differs
    os.utime(folder / 'a.bin', ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert fingerprint([folder]) == before and fingerprint([folder / 'a.bin'], content=True) != content


def test_a_stage_is_redone_when_an_output_is_removed_or_changed(tmp_path):
    runs = []

    def work(resume):
        runs.append(resume)
        (tmp_path / 'out' / 'result.txt').write_text('done')
    stage = Stage('demo', tmp_path / 'out', inputs={}, settings={'x': 1}, outputs=('result.txt',))
    assert run_stage(stage, work) and not run_stage(stage, work)
    (tmp_path / 'out' / 'result.txt').write_text('edited by hand')
    assert run_stage(stage, work)
    other = Stage('demo', tmp_path / 'out', inputs={}, settings={'x': 2}, outputs=('result.txt',))
    assert run_stage(other, work)
    assert runs == [False, True, False]  # same work again may resume; other settings start afresh


# -- flow ---------------------------------------------------------------------------------
def test_flows_are_redone_for_other_frames_under_the_same_names(tmp_path):
    frames = clip(tmp_path / 'clip') / 'frames'
    out = tmp_path / 'flow'
    extract_flows(frames, out, method='dis', quiet=True)
    files = list_frames(frames)
    data = [f.read_bytes() for f in files]
    for path, content in zip(files, reversed(data)):  # the same frames reversed, renamed in place
        path.write_bytes(content)
    summary = extract_flows(frames, out, method='dis', quiet=True)
    assert summary.computed == len(files) - 1
    first, second = (cv2.imread(str(f)) for f in files[:2])
    expected, _ = dis_flow_pair(first, second)
    assert np.array_equal(read_flo(out / 'fwd_of' / '00000_00001.flo'), expected)


def dead_pid():
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait()
    return process.pid


def test_temporaries_of_a_killed_flow_write_are_removed_and_never_counted(tmp_path):
    frames = clip(tmp_path / 'clip') / 'frames'
    out = tmp_path / 'flow'
    extract_flows(frames, out, method='dis', quiet=True)
    leftover = out / 'fwd_of' / f'.00002_00003.tmp-{dead_pid()}.flo'
    leftover.write_bytes(b'half a flow')
    (out / 'fwd_of' / '00002_00003.flo').unlink()  # the kill happened before the rename
    summary = extract_flows(frames, out, method='dis', quiet=True)
    assert summary.computed == 1 and not leftover.exists()
    # the graph alone does not count a temporary .flo as a flow either
    leftover.write_bytes(b'half a flow')
    config = load_config(tiny_config(tmp_path / 'tiny.ini'))
    ran, _ = run_graph_stage(frames, out, tmp_path / 'graph', graph_settings(config), torch.device('cpu'), quiet=True)
    assert ran


def test_the_feature_cache_changes_no_graph_output_so_a_rerun_with_another_is_skipped(tmp_path):
    """feature_cache_mib trades memory for time only: the stage record leaves it out."""
    frames = clip(tmp_path / 'clip') / 'frames'
    extract_flows(frames, tmp_path / 'flow', method='dis', quiet=True)
    settings = graph_settings(load_config(tiny_config(tmp_path / 'tiny.ini')))
    cpu = torch.device('cpu')
    assert run_graph_stage(frames, tmp_path / 'flow', tmp_path / 'graph', settings, cpu, quiet=True)[0]
    kept = dataclasses.replace(settings, feature_cache_mib=64)
    assert not run_graph_stage(frames, tmp_path / 'flow', tmp_path / 'graph', kept, cpu, quiet=True)[0]
    other = dataclasses.replace(settings, sigma=settings.sigma + 1)
    assert run_graph_stage(frames, tmp_path / 'flow', tmp_path / 'graph', other, cpu, quiet=True)[0]


# -- the network and its teacher ----------------------------------------------------------
def test_a_network_run_alone_is_trained_again_once_its_teacher_is_redone(tmp_path):
    """main.py after run_graph_module.py: when the graph pass is redone (new pseudo labels), the
    network must not be reused, although its own settings did not change."""
    frames = clip(tmp_path / 'clip') / 'frames'
    config = load_config(tiny_config(tmp_path / 'tiny.ini'))
    extract_flows(frames, tmp_path / 'flow', method='dis', quiet=True)
    settings = graph_settings(config)
    cpu = torch.device('cpu')
    _, (teacher, _) = run_graph_stage(frames, tmp_path / 'flow', tmp_path / 'graph', settings, cpu, quiet=True)
    network = NetworkSettings.from_config(config)
    run_network(frames, teacher, tmp_path / 'net', network, 'cpu', seed=0, quiet=True)
    stage = network_stage(list_frames(frames), teacher, tmp_path / 'net', network, seed=0)
    assert stage.is_done()
    ran, _ = run_graph_stage(frames, tmp_path / 'flow', tmp_path / 'graph', settings, cpu, quiet=True, force=True)
    assert ran
    assert not network_stage(list_frames(frames), teacher, tmp_path / 'net', network, seed=0).is_done()


# -- interrupted reruns -------------------------------------------------------------------
def test_an_interrupted_rerun_with_new_settings_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    video = clip(tmp_path / 'clip')
    path = tiny_config(tmp_path / 'tiny.ini')
    out = tmp_path / 'out'
    options = LoopOptions(cycles=2, flow_method='dis', seed=0)
    run_video(video / 'frames', out, load_config(path), options, torch.device('cpu'))
    (out / 'scores.json').write_text('{}')  # as a run with --annotations leaves it
    tiny_config(path, **{'lambda': '50'})

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(graph_module.run, 'run_graph_module', interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_video(video / 'frames', out, load_config(path), options, torch.device('cpu'))
    assert not (out / 'final' / 'masks').exists() and not (out / 'scores.json').exists()
    assert json.loads((out / 'cycle_1' / 'graph' / 'stage.json').read_text())['state'] == 'running'
    for later in ('cycle_1/network', 'cycle_2/graph', 'final'):
        assert not (out / later / 'stage.json').exists(), later
    assert not (out / 'cycle_1' / 'network' / 'results_pt').exists() or \
        not any((out / 'cycle_1' / 'network' / 'results_pt').iterdir())
    monkeypatch.undo()
    run_video(video / 'frames', out, load_config(path), options, torch.device('cpu'))
    assert len(list((out / 'final' / 'masks').glob('*.png'))) == 6


# -- the lock -----------------------------------------------------------------------------
def _hold_lock(folder, ready):
    with folder_lock(folder):
        ready.set()
        time.sleep(60)


def test_a_lock_held_by_a_live_process_is_refused_and_that_of_a_killed_one_taken_over(tmp_path):
    context = multiprocessing.get_context('spawn')
    ready = context.Event()
    holder = context.Process(target=_hold_lock, args=(tmp_path / 'out', ready))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(InputError, match=f'in use by another IKE run \\(process {holder.pid}\\)'):
            with folder_lock(tmp_path / 'out'):
                pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
    assert (tmp_path / 'out' / LOCK_NAME).exists()  # the killed holder could not clean up
    with folder_lock(tmp_path / 'out'):
        assert (tmp_path / 'out' / LOCK_NAME).read_text().strip() == str(os.getpid())
    assert not (tmp_path / 'out' / LOCK_NAME).exists()


# -- frames: natural order, names that map back -------------------------------------------
def test_frames_in_natural_order_and_final_masks_named_after_them(tmp_path):
    source = list_frames(clip(tmp_path / 'clip', n_frames=11) / 'frames')
    frames = tmp_path / 'numbered'
    frames.mkdir()
    for index, path in enumerate(source):
        shutil.copy(path, frames / f'{index + 1}.jpg')  # 1.jpg .. 11.jpg: as text, 10.jpg would come second
    assert [p.name for p in list_frames(frames)] == [f'{i}.jpg' for i in range(1, 12)]
    config = load_config(tiny_config(tmp_path / 'tiny.ini'))
    result = run_video(frames, tmp_path / 'out', config, LoopOptions(cycles=1, flow_method='dis'), torch.device('cpu'))
    expected, _ = dis_flow_pair(cv2.imread(str(frames / '1.jpg')), cv2.imread(str(frames / '2.jpg')))
    assert np.array_equal(read_flo(tmp_path / 'out' / 'flow' / 'fwd_of' / '00000_00001.flo'), expected)
    names = sorted(p.name for p in (result['final'] / 'masks').iterdir())
    assert names == sorted(f'{i}.png' for i in range(1, 12))
    # 10.png is the mask of frame 10.jpg, the tenth frame: made from the graph's 00009.pt
    soft = torch.load(result['final'] / 'soft_pt' / '10.pt')
    assert torch.equal(soft, torch.load(tmp_path / 'out' / 'cycle_1' / 'graph' / 'iter_9' / '00009.pt'))


@pytest.mark.parametrize('names', [('1.jpg', '01.jpg', '2.jpg'), ('5.jpg', '5.png', '6.jpg')])
def test_frame_names_without_an_order_are_refused(tmp_path, names):
    for name in names:
        cv2.imwrite(str(tmp_path / name), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match='no order'):
        list_frames(tmp_path)


def test_a_truncated_jpeg_is_refused(tmp_path):
    frames = clip(tmp_path / 'clip') / 'frames'
    path = frames / '00003.jpg'
    path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(InputError, match='00003.jpg is a truncated JPEG'):
        extract_flows(frames, tmp_path / 'flow', method='dis', quiet=True)
    assert not (tmp_path / 'flow').exists()


# -- a video in which nothing moves -------------------------------------------------------
def test_a_static_video_warns_and_gives_empty_masks(tmp_path):
    frames = tmp_path / 'frames'
    frames.mkdir()
    first = list_frames(clip(tmp_path / 'clip') / 'frames')[0]
    for index in range(5):
        shutil.copy(first, frames / f'{index:05d}.jpg')
    config = load_config(tiny_config(tmp_path / 'tiny.ini'))
    with pytest.warns(UserWarning, match='no moving object was found'):
        result = run_video(frames, tmp_path / 'out', config, LoopOptions(cycles=2, flow_method='dis'),
                           torch.device('cpu'))
    masks = sorted((result['final'] / 'masks').glob('*.png'))
    assert len(masks) == 5 and all(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).max() == 0 for p in masks)
    assert all(torch.equal(torch.load(p), torch.zeros(32, 48, 1)) for p in (result['final'] / 'soft_pt').iterdir())
    assert result['stages'] == []


# -- NaN and inf outputs ------------------------------------------------------------------
def test_graph_maps_with_nan_fail_at_once_naming_lambda(tmp_path):
    maps = torch.rand(3, 4, 5)
    maps[1, 2, 3] = float('nan')
    with pytest.raises(InputError, match='lambda'):
        save_iteration(tmp_path / 'graph', 4, maps, (8, 10))
    assert not (tmp_path / 'graph' / 'iter_4').exists()


def test_a_diverging_network_fails_at_once_naming_the_learning_rate(tmp_path):
    frames = clip(tmp_path / 'clip') / 'frames'
    pseudo = tmp_path / 'pseudo'
    pseudo.mkdir()
    for index in range(6):
        torch.save(torch.rand(32, 48, 1), pseudo / f'{index:05d}.pt')
    settings = NetworkSettings(working_h=32, working_w=48, n_epochs=1, batch_size=2, learning_rate=1e6,
                               to_save_epochs=(1,), base_channels=4)
    with pytest.raises(InputError, match='learning_rate'):
        run_network(frames, pseudo, tmp_path / 'net', settings, 'cpu', seed=0, quiet=True)
    assert not (tmp_path / 'net' / 'results_pt' / 'epoch_00001').exists()
