"""The flow stage without weights (DIS, Farneback): outputs, resuming, atomicity, bad input, CLI."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import optical_flow.extract as extract_module
from conftest import FIXTURES, shared_missing
from ike_utils.errors import InputError
from ike_utils.flow_io import read_flo
from optical_flow.classic import dis_flow_pair
from optical_flow.extract import extract_flows

ROOT = Path(__file__).resolve().parents[1]
GRAPH_FIXTURES = FIXTURES / 'graph_reference'
SCRIPT = ROOT / 'extract_optical_flow.py'


def _require_fixtures():
    shared_missing(GRAPH_FIXTURES / 'frames', 'graph reference fixtures')


def _clip(tmp_path, count=8):
    """The first `count` frames of the fixture clip (car-shadow, 128x72)."""
    _require_fixtures()
    folder = tmp_path / 'frames'
    folder.mkdir()
    for path in sorted((GRAPH_FIXTURES / 'frames').glob('*.jpg'))[:count]:
        shutil.copy(path, folder / path.name)
    return folder


def _run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_dis_reproduces_the_fixture_flows(tmp_path):
    """The fixture flows were made with OpenCV DIS (preset medium) on these frames: ours agree
    (exactly, on this machine; asserted with a margin for other OpenCV builds)."""
    _require_fixtures()
    summary = extract_flows(GRAPH_FIXTURES / 'frames', tmp_path / 'out', method='dis', quiet=True)
    assert (summary.pairs, summary.computed) == (35, 35)
    errors = []
    for direction in ('fwd_of', 'bwd_of'):
        for index in range(35):
            name = f'{index:05d}_{index + 1:05d}.flo'
            ours = read_flo(tmp_path / 'out' / direction / name)
            reference = read_flo(GRAPH_FIXTURES / 'flow' / direction / name)
            assert ours.shape == reference.shape == (72, 128, 2)
            errors.append(np.abs(ours - reference))
    errors = np.stack(errors)
    assert errors.mean() < 0.01
    assert np.percentile(errors, 99.9) < 0.5


def test_dis_flow_pair_matches_the_stage_and_the_motion(tmp_path):
    """The function for the graph benchmark gives the stage's flows, and the flow explains the
    motion: warping frame 2 back with the forward flow brings it closer to frame 1."""
    folder = _clip(tmp_path, count=2)
    extract_flows(folder, tmp_path / 'out', method='dis', quiet=True)
    frames = [cv2.imread(str(path)) for path in sorted(folder.glob('*.jpg'))]
    forward, backward = dis_flow_pair(frames[0], frames[1])
    assert np.array_equal(forward, read_flo(tmp_path / 'out' / 'fwd_of' / '00000_00001.flo'))
    assert np.array_equal(backward, read_flo(tmp_path / 'out' / 'bwd_of' / '00000_00001.flo'))
    gray = [cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32) for frame in frames]
    ys, xs = np.mgrid[0:72, 0:128].astype(np.float32)
    warped = cv2.remap(gray[1], xs + forward[..., 0], ys + forward[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    assert np.abs(warped - gray[0]).mean() < 0.8 * np.abs(gray[1] - gray[0]).mean()


def test_rerun_skips_finished_pairs_and_redoes_missing_or_damaged_ones(tmp_path):
    folder = _clip(tmp_path, count=6)
    out = tmp_path / 'out'
    first = extract_flows(folder, out, method='dis', quiet=True)
    assert (first.computed, first.skipped) == (5, 0)
    stamps = {path: path.stat().st_mtime_ns for path in out.rglob('*.flo')}
    assert len(stamps) == 10

    again = extract_flows(folder, out, method='dis', quiet=True)
    assert (again.computed, again.skipped) == (0, 5)
    assert all(path.stat().st_mtime_ns == stamp for path, stamp in stamps.items())

    (out / 'fwd_of' / '00001_00002.flo').unlink()
    damaged = out / 'bwd_of' / '00003_00004.flo'
    damaged.write_bytes(damaged.read_bytes()[:100])
    repaired = extract_flows(folder, out, method='dis', quiet=True)
    assert (repaired.computed, repaired.skipped) == (2, 3)
    assert read_flo(damaged).shape == (72, 128, 2)
    assert (out / 'fwd_of' / '00001_00002.flo').is_file()


def test_other_settings_replace_the_old_flows(tmp_path):
    """Flows of DIS are never kept when Farneback is asked for (no silent mix of methods)."""
    folder = _clip(tmp_path, count=4)
    out = tmp_path / 'out'
    extract_flows(folder, out, method='dis', quiet=True)
    dis = read_flo(out / 'fwd_of' / '00000_00001.flo')
    (out / 'fwd_of' / '00017_00018.flo').write_bytes(b'a stale file of a longer video')
    summary = extract_flows(folder, out, method='farneback', quiet=True)
    assert (summary.computed, summary.skipped) == (3, 0)
    farneback = read_flo(out / 'fwd_of' / '00000_00001.flo')
    assert np.abs(farneback - dis).mean() > 0.01
    assert not (out / 'fwd_of' / '00017_00018.flo').exists()
    assert json.loads((out / 'stage.json').read_text())['settings']['method'] == 'farneback'


def test_interrupted_run_leaves_only_complete_files_and_resumes(tmp_path, monkeypatch):
    folder = _clip(tmp_path, count=5)
    out = tmp_path / 'out'
    real_write = extract_module.write_flo
    calls = []

    def write_then_interrupt(path, flow):
        calls.append(path)
        if len(calls) == 3:  # the forward flow of the second pair is written, its backward not
            raise KeyboardInterrupt
        real_write(path, flow)
    monkeypatch.setattr(extract_module, 'write_flo', write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        extract_flows(folder, out, method='dis', quiet=True)
    monkeypatch.setattr(extract_module, 'write_flo', real_write)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob('*') if p.is_file())
    assert files == ['bwd_of/00000_00001.flo', 'fwd_of/00000_00001.flo', 'stage.json']
    resumed = extract_flows(folder, out, method='dis', quiet=True)
    assert (resumed.computed, resumed.skipped) == (3, 1)


def test_flo_writes_are_atomic(tmp_path, monkeypatch):
    """A failure in the middle of writing a .flo leaves no file under the final name."""
    folder = _clip(tmp_path, count=2)
    import ike_utils.flow_io as flow_io

    def failing_tobytes(array):
        raise OSError('disk full')
    monkeypatch.setattr(flow_io.np, 'ascontiguousarray', failing_tobytes)
    with pytest.raises(OSError, match='disk full'):
        extract_flows(folder, tmp_path / 'out', method='dis', quiet=True)
    assert [p.name for p in (tmp_path / 'out' / 'fwd_of').iterdir()] == []


def test_save_viz_writes_colour_images_also_for_finished_pairs(tmp_path):
    folder = _clip(tmp_path, count=3)
    out = tmp_path / 'out'
    extract_flows(folder, out, method='dis', quiet=True)
    assert not (out / 'fwd_of_viz').exists()
    summary = extract_flows(folder, out, method='dis', quiet=True, save_viz=True)
    assert summary.skipped == 2
    for direction in ('fwd_of_viz', 'bwd_of_viz'):
        for index in range(2):
            image = cv2.imread(str(out / direction / f'{index:05d}_{index + 1:05d}.png'))
            assert image.shape == (72, 128, 3)
            assert image.std() > 1  # colours, not a blank image


def _write_frames(folder, sizes):
    folder.mkdir()
    for index, (height, width) in enumerate(sizes):
        cv2.imwrite(str(folder / f'{index:05d}.png'), np.full((height, width, 3), 40 * index, np.uint8))
    return folder


def test_bad_frames_are_input_errors(tmp_path):
    with pytest.raises(InputError, match='at least 2'):
        extract_flows(_write_frames(tmp_path / 'one', [(72, 128)]), tmp_path / 'o1', quiet=True)
    with pytest.raises(InputError, match=r'00001.png is 100x72 but .*00000.png is 128x72'):
        extract_flows(_write_frames(tmp_path / 'sizes', [(72, 128), (72, 100)]), tmp_path / 'o2', quiet=True)
    unreadable = _write_frames(tmp_path / 'broken', [(72, 128), (72, 128)])
    (unreadable / '00001.png').write_bytes(b'not an image')
    with pytest.raises(InputError, match='00001.png cannot be read as an image'):
        extract_flows(unreadable, tmp_path / 'o3', quiet=True)
    with pytest.raises(InputError, match='does not exist'):
        extract_flows(tmp_path / 'nowhere', tmp_path / 'o4', quiet=True)


@pytest.mark.parametrize('case', ['one_frame', 'different_sizes', 'unreadable', 'missing_checkpoint',
                                  'bad_checkpoint_key'])
def test_script_bad_input_exits_2_with_one_line(tmp_path, case):
    frames = tmp_path / 'frames'
    extra = ['--method', 'dis']
    if case == 'one_frame':
        _write_frames(frames, [(72, 128)])
        expected = 'at least 2'
    elif case == 'different_sizes':
        _write_frames(frames, [(72, 128), (72, 128), (64, 128)])
        expected = 'same size'
    elif case == 'unreadable':
        _write_frames(frames, [(72, 128), (72, 128)])
        (frames / '00000.png').write_bytes(b'\x89PNG broken')
        expected = 'cannot be read as an image'
    elif case == 'missing_checkpoint':
        _write_frames(frames, [(136, 240), (136, 240)])
        extra = ['--method', 'raft', '--models', tmp_path / 'raft-things.pth']
        expected = '--method dis'
    else:
        import torch
        _write_frames(frames, [(136, 240), (136, 240)])
        torch.save({'module.fnet.conv1.weight': torch.ones(64, 3, 7, 7), 'module.mystery.weight': torch.ones(1)},
                   tmp_path / 'odd.pth')
        extra = ['--method', 'raft', '--models', tmp_path / 'odd.pth']
        expected = "key 'module.mystery.weight' fits neither"
    result = _run_script('--frames_path', frames, '--out_path', tmp_path / 'out', '--quiet', *extra)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and expected in lines[0], result.stderr
    assert 'Traceback' not in result.stderr
    assert not list((tmp_path / 'out').rglob('*.flo'))


def test_script_runs_dis_quietly(tmp_path):
    folder = _clip(tmp_path, count=3)
    result = _run_script('--frames_path', folder, '--out_path', tmp_path / 'out', '--method', 'dis', '--quiet',
                         '--save_viz')
    assert result.returncode == 0, result.stderr
    assert result.stderr == ''  # --quiet: no bars; the one line of stdout says where the flows are
    assert result.stdout.splitlines() == [result.stdout.strip()] and str(tmp_path / 'out') in result.stdout
    assert len(list((tmp_path / 'out' / 'bwd_of').glob('*.flo'))) == 2
    assert len(list((tmp_path / 'out' / 'fwd_of_viz').glob('*.png'))) == 2
