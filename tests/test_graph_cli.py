"""run_graph_module.py through a subprocess: every kind of bad input ends with exit status 2, one line
on stderr that names the file or key, no traceback, and no iteration folder; a good run writes
outputs of the right shapes; an interrupted save leaves nothing that looks complete.

The subprocesses are started together (a few at a time) by one module fixture, since each spends
most of its time importing PyTorch."""
import os
import runpy
import shutil
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import graph_module.outputs
from conftest import REPO, random_cues, random_flows, write_config, write_feature_folder, write_video
from graph_module.run import run_graph_module
from graph_module.settings import GraphSettings
from ike_utils.config import load_config
from ike_utils.flow_io import flow_file_name, write_flo

N_FRAMES, WORKING, ORIGINAL, FLOW_HW = 6, (12, 16), (20, 30), (10, 15)
SCRIPT = REPO / 'run_graph_module.py'
pytestmark = pytest.mark.usefixtures('single_thread')


def make_inputs(folder: Path):
    """A valid 6-frame video (20x30 frames, flows at 10x15), one 1-channel feature folder and a
    config for 12x16 with 3 iterations. Returns a dict of paths."""
    fwd = random_flows(1, N_FRAMES, *FLOW_HW).numpy()
    bwd = random_flows(2, N_FRAMES, *FLOW_HW).numpy()
    frames, of_path = write_video(folder, N_FRAMES, ORIGINAL, fwd, bwd)
    cues = write_feature_folder(folder / 'cues', random_cues(3, N_FRAMES, 1, *WORKING))
    config = write_config(folder / 'config.ini', WORKING, n_iterations=3, to_save_iterations='-1, 2')
    cue_config = write_config(folder / 'cue_config.ini', WORKING, n_iterations=3, to_save_iterations='-1, 2',
                              ike_features_paths=[str(cues)])
    return dict(frames=frames, of=of_path, config=config, cue_config=cue_config, cues=cues, out=folder / 'out')


def rewrite_config(paths, key, value):
    """Change (or with value None, drop) one [Graph Module] key of the plain config."""
    lines = paths['config'].read_text().splitlines()
    lines = [line for line in lines if not line.startswith(f'{key} =')]
    if value is not None:
        lines.insert(lines.index('[Graph Module]') + 1, f'{key} = {value}')
    paths['config'].write_text('\n'.join(lines) + '\n')


def corrupt_magic(path: Path):
    data = bytearray(path.read_bytes())
    data[0:4] = np.float32(123.5).tobytes()
    path.write_bytes(bytes(data))


def write_bad_frame(paths):
    (paths['frames'] / '00003.png').write_bytes(b'this is not an image')


def write_odd_frame(paths):
    cv2.imwrite(str(paths['frames'] / '00004.png'), np.zeros((21, 30, 3), np.uint8))


def truncate(path: Path, keep: int):
    path.write_bytes(path.read_bytes()[:keep])


def nan_flow(path: Path):
    data = bytearray(path.read_bytes())
    data[12 + 40:12 + 44] = np.float32('nan').tobytes()
    path.write_bytes(bytes(data))


def wrong_shape_feature(paths):
    torch.save(torch.zeros(WORKING[0], WORKING[1] + 1, 1), paths['cues'] / '00002.pt')


def nan_feature(paths):
    cue = torch.load(paths['cues'] / '00002.pt', weights_only=True)
    cue[3, 4, 0] = float('nan')
    torch.save(cue, paths['cues'] / '00002.pt')


def garbage_feature(paths):
    (paths['cues'] / '00001.pt').write_bytes(b'not a tensor')


# name: (how to break the inputs, which config, the argument changes, what the message must name).
# The cases the issue lists run as subprocesses; EXTRA_BAD_INPUTS run the same script in-process
# (runpy), which is much faster and checks the same message and exit status.
BAD_INPUTS = {
    'frames_missing': (None, 'config', {'frames': 'no_such_frames'}, 'no_such_frames'),
    'frames_empty': (lambda p: [f.unlink() for f in p['frames'].iterdir()], 'config', {}, 'frames'),
    'frame_unreadable': (write_bad_frame, 'config', {}, '00003.png'),
    'frames_of_different_sizes': (write_odd_frame, 'config', {}, '00004.png'),
    'flo_missing': (lambda p: (p['of'] / 'bwd_of' / flow_file_name(3)).unlink(), 'config', {}, '00003_00004.flo'),
    'flo_count_too_many': (lambda p: shutil.copy(p['of'] / 'fwd_of' / flow_file_name(0),
                                                 p['of'] / 'fwd_of' / flow_file_name(N_FRAMES - 1)),
                           'config', {}, 'fwd_of'),
    'flo_wrong_magic_bwd_last': (lambda p: corrupt_magic(p['of'] / 'bwd_of' / flow_file_name(N_FRAMES - 2)),
                                 'config', {}, 'bwd_of/00004_00005.flo'),
    'flo_truncated_data': (lambda p: truncate(p['of'] / 'bwd_of' / flow_file_name(4), 12 + 100), 'config', {},
                           'bwd_of/00004_00005.flo'),
    'feature_count': (lambda p: (p['cues'] / '00005.pt').unlink(), 'cue_config', {}, 'cues'),
    'feature_shape': (wrong_shape_feature, 'cue_config', {}, '00002.pt'),
    'config_missing_key': (lambda p: rewrite_config(p, 'sigma', None), 'config', {}, 'sigma'),
    'config_wrong_type': (lambda p: rewrite_config(p, 'n_iterations', 'ten'), 'config', {}, 'n_iterations'),
    'config_out_of_range': (lambda p: rewrite_config(p, 'seed_type', '3'), 'config', {}, 'seed_type'),
}
EXTRA_BAD_INPUTS = {
    'flo_folder_missing': (lambda p: shutil.rmtree(p['of'] / 'bwd_of'), 'config', {}, 'bwd_of'),
    'flo_count_extra_frame': (lambda p: shutil.copy(p['frames'] / '00005.png', p['frames'] / '00006.png'),
                              'config', {}, 'fwd_of'),
    'flo_misnamed': (lambda p: (p['of'] / 'fwd_of' / flow_file_name(2)).rename(p['of'] / 'fwd_of' / 'x.flo'),
                     'config', {}, '00002_00003.flo'),
    'flo_wrong_magic_fwd': (lambda p: corrupt_magic(p['of'] / 'fwd_of' / flow_file_name(2)), 'config', {},
                            'fwd_of/00002_00003.flo'),
    'flo_truncated_header': (lambda p: truncate(p['of'] / 'fwd_of' / flow_file_name(1), 6), 'config', {},
                             'fwd_of/00001_00002.flo'),
    'flo_nan_bwd': (lambda p: nan_flow(p['of'] / 'bwd_of' / flow_file_name(3)), 'config', {},
                    'bwd_of/00003_00004.flo'),
    'feature_folder_missing': (lambda p: shutil.rmtree(p['cues']), 'cue_config', {}, 'cues'),
    'feature_unloadable': (garbage_feature, 'cue_config', {}, '00001.pt'),
    # a diverged network writes NaN: today the cue block silently becomes 0 with a "zero range" warning
    'feature_nan': (nan_feature, 'cue_config', {}, '00002.pt'),
    'config_file_missing': (None, 'config', {'config': 'no_such_config.ini'}, 'no_such_config.ini'),
    'config_wrong_type_float': (lambda p: rewrite_config(p, 'lambda', '1e2x'), 'config', {}, 'lambda'),
    'config_negative_sigma': (lambda p: rewrite_config(p, 'sigma', '-4'), 'config', {}, 'sigma'),
    'config_save_beyond_last': (lambda p: rewrite_config(p, 'to_save_iterations', '-1, 3'), 'config', {},
                                'to_save_iterations'),
    'config_half_chain_too_long': (lambda p: rewrite_config(p, 'dir_features_half_chain_size', '16'), 'config',
                                   {}, 'dir_features_half_chain_size'),
    'config_unparsable': (lambda p: p['config'].write_text('[General\nworking_h = 12\n'), 'config', {},
                          'config.ini'),
}
def zero_flows(paths):
    zeros = np.zeros((*FLOW_HW, 2), np.float32)
    for name in ('fwd_of', 'bwd_of'):
        for index in range(N_FRAMES - 1):
            write_flo(paths['of'] / name / flow_file_name(index), zeros)


# name: (which config, which flag names it, how to change the inputs)
GOOD_RUNS = {
    'good_config_file': ('config', '--config_file', None),
    'good_config': ('cue_config', '--config', None),
    'good_no_motion': ('config', '--config', zero_flows),
}


def command(paths, config_flag='--config', config_key='config', changes=None):
    changes = changes or {}
    folder = paths['out'].parent
    frames = folder / changes['frames'] if 'frames' in changes else paths['frames']
    config = folder / changes['config'] if 'config' in changes else paths[config_key]
    return [sys.executable, str(SCRIPT), '--frames_path', str(frames), '--of_path', str(paths['of']),
            '--out_path', str(paths['out']), config_flag, str(config), '--device', 'cpu', '--quiet']


@pytest.fixture(scope='module')
def cli_results(tmp_path_factory):
    """{case: (paths, CompletedProcess)} for every bad input and every good run."""
    jobs = {}
    for name, (breaker, config_key, changes, _) in BAD_INPUTS.items():
        paths = make_inputs(tmp_path_factory.mktemp(name))
        if breaker is not None:
            breaker(paths)
        jobs[name] = (paths, command(paths, config_key=config_key, changes=changes))
    for name, (config_key, flag, changer) in GOOD_RUNS.items():
        paths = make_inputs(tmp_path_factory.mktemp(name))
        if changer is not None:
            changer(paths)
        jobs[name] = (paths, command(paths, flag, config_key))
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')  # tiny inputs; no thread spinning

    def run(item):
        name, (paths, cmd) = item
        return name, (paths, subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO),
                                            timeout=300))

    with ThreadPoolExecutor(3) as pool:
        return dict(pool.map(run, jobs.items()))


def check_bad_input_result(paths, returncode, stderr, expected_name):
    assert 'Traceback' not in stderr, stderr
    assert returncode == 2, (returncode, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith('error: '), lines[0]
    assert expected_name in lines[0], f'the message does not name {expected_name!r}: {lines[0]}'
    out = paths['out']
    if out.exists():
        leftovers = sorted(p.name for p in out.iterdir() if 'iter_' in p.name)
        assert leftovers == [], f'bad input left {leftovers} in the output folder'


@pytest.mark.parametrize('case', list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line(cli_results, case):
    paths, result = cli_results[case]
    check_bad_input_result(paths, result.returncode, result.stderr, BAD_INPUTS[case][3])


@pytest.mark.parametrize('case', list(EXTRA_BAD_INPUTS))
def test_more_bad_inputs_in_process(case, tmp_path, monkeypatch, capsys):
    """The script run in this process (runpy, as __main__): same exit status and message rules."""
    breaker, config_key, changes, expected_name = EXTRA_BAD_INPUTS[case]
    paths = make_inputs(tmp_path)
    if breaker is not None:
        breaker(paths)
    monkeypatch.setattr(warnings, 'formatwarning', warnings.formatwarning)  # run_cli replaces it
    monkeypatch.setattr(sys, 'argv', command(paths, config_key=config_key, changes=changes)[1:])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(SCRIPT), run_name='__main__')
    check_bad_input_result(paths, exit_info.value.code, capsys.readouterr().err, expected_name)


@pytest.mark.parametrize('case', list(GOOD_RUNS))
def test_good_run_writes_outputs_of_the_right_shape(cli_results, case):
    paths, result = cli_results[case]
    assert result.returncode == 0, result.stderr
    assert 'Traceback' not in result.stderr
    warning_lines = [line for line in result.stderr.splitlines() if line.strip()]
    if case == 'good_no_motion':  # zero ranges: one-line warnings, finite outputs
        assert warning_lines and all(line.startswith('warning: ') for line in warning_lines), result.stderr
        assert any('zero range' in line for line in warning_lines), result.stderr
    else:
        assert warning_lines == [], result.stderr
    out = paths['out']
    assert sorted(p.name for p in out.iterdir()) == ['iter_-1', 'iter_-1_images', 'iter_2', 'iter_2_images', 'stage.json']
    for iteration in (-1, 2):
        pts = sorted(p.name for p in (out / f'iter_{iteration}').iterdir())
        pngs = sorted(p.name for p in (out / f'iter_{iteration}_images').iterdir())
        assert pts == ['%05d.pt' % i for i in range(N_FRAMES)]
        assert pngs == ['%05d.png' % i for i in range(N_FRAMES)]
        for index in range(N_FRAMES):
            soft = torch.load(out / f'iter_{iteration}' / ('%05d.pt' % index), weights_only=True)
            assert soft.dtype == torch.float32 and soft.shape == (*WORKING, 1)
            assert bool(torch.isfinite(soft).all())
            assert float(soft.min()) >= 0 and float(soft.max()) <= 1
            image = cv2.imread(str(out / f'iter_{iteration}_images' / ('%05d.png' % index)), cv2.IMREAD_UNCHANGED)
            assert image is not None and image.dtype == np.uint8 and image.shape == ORIGINAL
            expected = (torch.nn.functional.interpolate(soft[None].permute(0, 3, 1, 2), size=ORIGINAL,
                                                        mode='bilinear', align_corners=False)[0, 0] * 255)
            assert np.abs(image.astype(int) - expected.numpy().astype(np.uint8).astype(int)).max() <= 1


def test_cli_matches_in_process_run(cli_results, tmp_path):
    """The script is a thin wrapper: same numbers as calling run_graph_module with the same settings."""
    paths, result = cli_results['good_config_file']
    assert result.returncode == 0, result.stderr
    settings = GraphSettings.from_config(load_config(paths['config']))
    run_graph_module(paths['frames'], paths['of'], tmp_path / 'out', settings, torch.device('cpu'), quiet=True)
    for index in range(N_FRAMES):
        ours = torch.load(tmp_path / 'out' / 'iter_2' / ('%05d.pt' % index), weights_only=True)
        cli = torch.load(paths['out'] / 'iter_2' / ('%05d.pt' % index), weights_only=True)
        assert float((ours - cli).abs().max()) <= 1e-6


# ---------------------------------------------------------------------------------------------
# interrupted saves
# ---------------------------------------------------------------------------------------------
class Interrupt(Exception):
    pass


def failing_after(real, n_calls, error=Interrupt):
    calls = [0]

    def fake(*args, **kwargs):
        calls[0] += 1
        if calls[0] > n_calls:
            raise error('simulated interruption')
        return real(*args, **kwargs)
    return fake


def settings_for(paths):
    return GraphSettings.from_config(load_config(paths['config']))


def visible_entries(folder: Path):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize('error', [Interrupt, KeyboardInterrupt])
def test_interrupted_pt_save_leaves_no_folder_and_rerun_succeeds(tmp_path, monkeypatch, error):
    paths = make_inputs(tmp_path)
    real_save = torch.save
    monkeypatch.setattr(torch, 'save', failing_after(real_save, 3, error))
    with pytest.raises(error):
        graph_module.outputs.save_iteration(paths['out'], 7, torch.rand(N_FRAMES, *WORKING), ORIGINAL)
    assert visible_entries(paths['out']) == [], 'an interrupted save left a folder behind'
    # the same through a whole run: the seed's save fails half-way
    monkeypatch.setattr(torch, 'save', failing_after(real_save, 3, error))
    with pytest.raises(error):
        run_graph_module(paths['frames'], paths['of'], paths['out'], settings_for(paths), torch.device('cpu'),
                         quiet=True)
    assert visible_entries(paths['out']) == []
    monkeypatch.undo()
    run_graph_module(paths['frames'], paths['of'], paths['out'], settings_for(paths), torch.device('cpu'), quiet=True)
    assert visible_entries(paths['out']) == ['iter_-1', 'iter_-1_images', 'iter_2', 'iter_2_images']
    for name in visible_entries(paths['out']):
        assert len(list((paths['out'] / name).iterdir())) == N_FRAMES


def test_interrupted_png_save_leaves_no_images_folder(tmp_path, monkeypatch):
    paths = make_inputs(tmp_path)
    monkeypatch.setattr(graph_module.outputs, 'write_image', failing_after(graph_module.outputs.write_image, 2))
    with pytest.raises(Interrupt):
        graph_module.outputs.save_iteration(paths['out'], 0, torch.rand(N_FRAMES, *WORKING), ORIGINAL)
    assert 'iter_0_images' not in visible_entries(paths['out'])
    assert not graph_module.outputs.iteration_complete(paths['out'], 0, N_FRAMES)


def test_interrupted_later_iteration_keeps_finished_ones(tmp_path, monkeypatch):
    """A failure while saving iteration 2 keeps the complete seed folders and leaves no iter_2."""
    paths = make_inputs(tmp_path)
    monkeypatch.setattr(torch, 'save', failing_after(torch.save, N_FRAMES + 2))
    with pytest.raises(Interrupt):
        run_graph_module(paths['frames'], paths['of'], paths['out'], settings_for(paths), torch.device('cpu'),
                         quiet=True)
    assert visible_entries(paths['out']) == ['iter_-1', 'iter_-1_images']
    assert graph_module.outputs.iteration_complete(paths['out'], -1, N_FRAMES)


def test_stages_do_not_import_torchvision():
    """Importing torchvision holds 160 MiB of resident memory (README, Speed and memory): only RAFT
    and the flow images may load it, when they are used."""
    modules = ['graph_module.outputs', 'graph_module.run', 'optical_flow.extract', 'pipeline.video',
               'network_module.train']
    code = (f'import sys\nimport {", ".join(modules)}\n'
            'print(sorted(m for m in sys.modules if m.split(".")[0] == "torchvision"))')
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == '[]'
