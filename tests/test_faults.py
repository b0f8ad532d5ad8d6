"""run_ike.py killed with SIGKILL during each stage (flow, graph, network, final), then rerun: the
final masks equal those of a run that was never interrupted, and no temporary file is left. And two
runs on one --out_path at once: the second exits 2 naming the first, which finishes untouched."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from ike_utils.synthetic import make_clip, write_clip

from pipeline_helpers import tiny_config

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, OMP_NUM_THREADS='1')

# Runs run_ike.py in this process, after wrapping one function (module, name): its n-th call kills
# the process with SIGKILL half-way through the stage (no cleanup of any kind runs), or, with a file
# name as the 4th argument, waits until that file exists.
HOOKED_RUN = '''
import os, runpy, signal, sys, time, importlib
module, name, calls, wait_for = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
target = importlib.import_module(module)
real, count = getattr(target, name), [0]
def hooked(*args, **kwargs):
    count[0] += 1
    if count[0] == calls:
        if wait_for == '-':
            os.kill(os.getpid(), signal.SIGKILL)
        while not os.path.exists(wait_for):
            time.sleep(0.05)
    return real(*args, **kwargs)
setattr(target, name, hooked)
sys.argv = ['run_ike.py'] + sys.argv[5:]
runpy.run_path('run_ike.py', run_name='__main__')
'''
# (stage, module, function, call that dies): each call is inside the stage's writing
KILL_POINTS = {
    'flow': ('optical_flow.extract', 'write_flo', 5),  # the third pair's forward flow
    'graph': ('graph_module.outputs', 'write_image', 12),  # cycle 1, iteration 9's PNGs
    'network': ('network_module.train', 'save_soft_map_png', 3),  # the epoch's PNG predictions
    'final': ('pipeline.final', 'write_image', 4),  # the fourth final mask
}


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """The clip, the tiny config and the final masks of an uninterrupted run."""
    base = tmp_path_factory.mktemp('faults')
    frames = write_clip(make_clip(n_frames=8, height=48, width=80), base / 'clip', with_flows=False) / 'frames'
    config = tiny_config(base / 'tiny.ini')
    reference = base / 'reference'
    result = subprocess.run(command(frames, config, reference), capture_output=True, text=True, cwd=REPO, env=ENV,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return frames, config, masks(reference)


def command(frames, config, out, prefix=(sys.executable, 'run_ike.py')):
    return [*prefix, '--frames_path', str(frames), '--out_path', str(out), '--config', str(config),
            '--flow_method', 'dis', '--device', 'cpu', '--seed', '0', '--cycles', '2', '--quiet']


def masks(out):
    files = sorted((out / 'final' / 'masks').glob('*.png'))
    assert len(files) == 8
    return {p.name: cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in files}


def hidden_leftovers(out):
    return [p for p in out.rglob('.*')]


@pytest.mark.parametrize('stage', list(KILL_POINTS))
def test_sigkill_during_a_stage_then_rerun_gives_the_masks_of_an_uninterrupted_run(setup, tmp_path, stage):
    frames, config, reference = setup
    out = tmp_path / 'out'
    module, function, calls = KILL_POINTS[stage]
    killed = subprocess.run(command(frames, config, out, (sys.executable, '-c', HOOKED_RUN, module, function,
                                                          str(calls), '-')),
                            capture_output=True, text=True, cwd=REPO, env=ENV, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert hidden_leftovers(out), 'the kill was meant to happen half-way through a write'
    assert not (out / 'final' / 'stage.json').exists() or '"running"' in (out / 'final' / 'stage.json').read_text()
    rerun = subprocess.run(command(frames, config, out), capture_output=True, text=True, cwd=REPO, env=ENV,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    result = masks(out)
    assert result.keys() == reference.keys()
    assert all(np.array_equal(result[name], reference[name]) for name in reference)
    assert hidden_leftovers(out) == []  # temporaries of the dead run removed, lock released


def wait_for(condition, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError('timed out')
        time.sleep(0.01)


def test_sigkill_from_outside_during_the_network_then_rerun(setup, tmp_path):
    frames, config, reference = setup
    out = tmp_path / 'out'
    record = out / 'cycle_1' / 'network' / 'stage.json'
    process = subprocess.Popen(command(frames, config, out), cwd=REPO, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: record.exists() and '"running"' in record.read_text())
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (out / 'final').exists()
    rerun = subprocess.run(command(frames, config, out), capture_output=True, text=True, cwd=REPO, env=ENV,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    result = masks(out)
    assert all(np.array_equal(result[name], reference[name]) for name in reference)


def test_two_runs_on_one_out_path_the_second_exits_2_naming_the_first(setup, tmp_path):
    frames, config, reference = setup
    out, go = tmp_path / 'out', tmp_path / 'go'
    # the first run waits in its flow stage until the second has tried
    first = subprocess.Popen(command(frames, config, out, (sys.executable, '-c', HOOKED_RUN, 'optical_flow.extract',
                                                           'write_flo', '1', str(go))),
                             cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (out / 'flow' / 'stage.json').exists())
        second = subprocess.run(command(frames, config, out), capture_output=True, text=True, cwd=REPO, env=ENV,
                                timeout=300)
    finally:
        go.touch()
        first_stderr = first.communicate(timeout=300)[1]
    assert second.returncode == 2
    lines = [line for line in second.stderr.splitlines() if not line.startswith('warning: ')]
    assert len(lines) == 1 and 'in use by another IKE run' in lines[0] and f'process {first.pid}' in lines[0]
    assert first.returncode == 0, first_stderr
    result = masks(out)
    assert all(np.array_equal(result[name], reference[name]) for name in reference)
