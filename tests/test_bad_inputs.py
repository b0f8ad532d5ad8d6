"""Bad input to the five commands, as a hostile user gives it: one line 'error: ...' naming the file,
key or flag, exit status 2, and nothing computed (the check comes before any work). The scripts run
in this process (runpy, as `python script.py ...` would), which spares a start of Python and PyTorch
per case; test_pipeline.py and test_faults.py run them as subprocesses."""
import contextlib
import errno
import os
import runpy
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.io import savemat

from ike_utils.cli import run_cli
from ike_utils.config import load_config
from ike_utils.errors import InputError
from ike_utils.synthetic import make_clip, write_clip

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, OMP_NUM_THREADS='1')


def tiny_config(path, replace=(), extra=''):
    values = {'working_h': '32', 'working_w': '48', 'n_iterations': '4', 'to_save_iterations': '-1, 3',
              'n_epochs': '1', 'to_save_epochs': '1', 'base_channels': '4', 'batch_size': '2'}
    lines = []
    for line in (REPO / 'config.ini').read_text().splitlines():
        key = line.split('=')[0].strip() if '=' in line else None
        lines.append(f'{key} = {values[key]}' if key in values else line)
    text = '\n'.join(lines) + '\n' + extra
    for old, new in replace:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    return path


def run_ike(*args):
    return ['run_ike.py', '--flow_method', 'dis', '--device', 'cpu', '--quiet', *args]


def cases(base: Path):
    """{name: (command arguments, text the error line must hold)}; `base` holds the inputs."""
    frames, masks, good = base / 'clip' / 'frames', base / 'clip' / 'masks', base / 'good.ini'
    out = base / 'OUT'  # never created: every case fails before any work
    one = ['--frames_path', frames, '--config', good]
    return {
        'threshold_above_1': (run_ike(*one, '--out_path', out, '--threshold', '2'), '--threshold'),
        'threshold_nan': (run_ike(*one, '--out_path', out, '--threshold', 'nan'), '--threshold'),
        'cycles_0': (run_ike(*one, '--out_path', out, '--cycles', '0'), '--cycles'),
        'cycles_negative': (run_ike(*one, '--out_path', out, '--cycles', '-1'), '--cycles'),
        'workers_0': (run_ike('--dataset_root', base / 'davis', '--config', good, '--out_path', out,
                              '--workers', '0'), '--workers'),
        'out_path_is_a_file': (run_ike(*one, '--out_path', base / 'a_file'), 'a_file'),
        'out_path_not_writable': (run_ike(*one, '--out_path', '/proc/ike_out'), '/proc/ike_out'),
        'config_is_a_folder': (run_ike('--frames_path', frames, '--config', base, '--out_path', out), 'is a folder'),
        'lambda_0': (run_ike('--frames_path', frames, '--config', base / 'lambda0.ini', '--out_path', out), 'lambda'),
        'lambda_inf': (run_ike('--frames_path', frames, '--config', base / 'lambdainf.ini', '--out_path', out),
                       'lambda'),
        'learning_rate_0': (run_ike('--frames_path', frames, '--config', base / 'lr0.ini', '--out_path', out),
                            'learning_rate'),
        'misspelled_key': (run_ike('--frames_path', frames, '--config', base / 'typo.ini', '--out_path', out),
                           'base_chanels; did you mean base_channels'),
        'unknown_section': (run_ike('--frames_path', frames, '--config', base / 'section.ini', '--out_path', out),
                            '[Netwrk Module]; did you mean [Network Module]'),
        'truncated_jpeg': (run_ike('--frames_path', base / 'truncated', '--config', good, '--out_path', out),
                           '00002.jpg is a truncated JPEG'),
        'video_shorter_than_a_batch': (run_ike('--frames_path', base / 'short', '--config', base / 'batch3.ini',
                                               '--out_path', out),
                                       'batch_size'),
        'annotations_of_another_video': (run_ike(*one, '--out_path', out, '--annotations', base / 'other_masks'),
                                         'other_masks'),
        'flow_out_path_is_a_file': (['extract_optical_flow.py', '--frames_path', frames, '--out_path',
                                     base / 'a_file', '--method', 'dis', '--quiet'], 'a_file'),
        'graph_out_path_is_a_file': (['run_graph_module.py', '--frames_path', frames, '--of_path', base / 'flow',
                                      '--out_path', base / 'a_file', '--config', good, '--quiet'], 'a_file'),
        'network_out_path_is_a_file': (['main.py', '--frames_path', frames, '--pseudo_gt_path', base / 'pseudo',
                                        '--out_path', base / 'a_file', '--config', good, '--quiet'], 'a_file'),
        'demo_out_path_is_a_file': (['demo.py', '--out_path', base / 'a_file', '--quiet'], 'a_file'),
        'demo_frames_0': (['demo.py', '--out_path', out, '--frames', '0', '--quiet'], '--frames'),
        'evaluate_csv_is_a_folder': (['evaluate.py', '--results', base / 'results', '--annotations',
                                      base / 'annotations', '--csv', base, '--quiet'], '--csv'),
        'evaluate_json_under_a_file': (['evaluate.py', '--results', base / 'results', '--annotations',
                                        base / 'annotations', '--json', base / 'a_file' / 'x.json', '--quiet'],
                                       '--json'),
        # unknown keys and sections come first, whatever the other values, for every command that reads a config
        'misspelled_key_beside_a_bad_value': (run_ike(*one[:3], base / 'typo_lambda0.ini', '--out_path', out),
                                              'base_chanels; did you mean base_channels'),
        'key_in_the_wrong_section': (run_ike(*one[:3], base / 'wrong_section.ini', '--out_path', out),
                                     '[Graph Module] base_channels; it belongs in [Network Module]'),
        'graph_command_misspelled_network_key': (['run_graph_module.py', '--frames_path', frames, '--of_path',
                                                  base / 'flow', '--out_path', out, '--config', base / 'typo.ini'],
                                                 'base_chanels; did you mean base_channels'),
        'network_command_unknown_section': (['main.py', '--frames_path', frames, '--pseudo_gt_path', base / 'pseudo',
                                             '--out_path', out, '--config', base / 'section.ini'],
                                            '[Netwrk Module]; did you mean [Network Module]'),
        'demo_misspelled_key': (['demo.py', '--out_path', out, '--config', base / 'typo_lambda0.ini', '--quiet'],
                                'base_chanels'),
        # dataset mode: every video's frames and ground truth are checked before any work
        'davis_annotations_of_another_video': (run_ike('--dataset_root', base / 'davis_bad', '--config', good,
                                                       '--out_path', out), 'frame_0.png matches no frame'),
        'segtrack_masks_of_another_size': (run_ike('--dataset', 'segtrackv2', '--dataset_root', base / 'segtrack_bad',
                                                   '--config', good, '--out_path', out),
                                           '00000.png is 40x24 but its frame'),
        'youtube_objects_box_of_a_missing_frame': (run_ike('--dataset', 'youtube-objects', '--dataset_root',
                                                           base / 'yto_bad', '--config', good, '--out_path', out),
                                                   'belongs to frame frame0009.jpg'),
        'dataset_video_shorter_than_a_batch': (run_ike('--dataset_root', base / 'davis_short', '--config',
                                                       base / 'batch3.ini', '--out_path', out),
                                               'short holds 2 frames, fewer than one network batch'),
        # argparse's errors: one line naming the flag and the fix, for every command
        'missing_flag': (run_ike('--frames_path', frames), '--out_path; give them'),
        'misspelled_flag': (run_ike(*one, '--out_path', out, '--thresold', '0.3'),
                            'unknown flag --thresold; did you mean --threshold?'),
        'two_sources': (run_ike(*one, '--video', base / 'a_file', '--out_path', out), 'is not allowed with'),
        'flow_unknown_method': (['extract_optical_flow.py', '--frames_path', frames, '--out_path', out, '--method',
                                 'sift'], "--method: invalid choice: 'sift'"),
        'graph_threads_0': (['run_graph_module.py', '--frames_path', frames, '--of_path', base / 'flow', '--out_path',
                             out, '--threads', '0'], '--threads 0 is not valid; give 1 or more'),
        'network_seed_not_a_number': (['main.py', '--frames_path', frames, '--pseudo_gt_path', base / 'pseudo',
                                       '--out_path', out, '--seed', 'one'],
                                      "--seed: invalid int value: 'one'; give a whole number"),
        'evaluate_missing_annotations': (['evaluate.py', '--results', base / 'results'], '--annotations'),
        'demo_cycles_0': (['demo.py', '--out_path', out, '--cycles', '0'], '--cycles 0 is not valid'),
    }


def make_inputs(base: Path):
    clip = write_clip(make_clip(n_frames=5, height=48, width=80), base / 'clip', with_flows=False)
    good = tiny_config(base / 'good.ini')
    tiny_config(base / 'lambda0.ini', [('lambda = 100', 'lambda = 0')])
    tiny_config(base / 'lambdainf.ini', [('lambda = 100', 'lambda = inf')])
    tiny_config(base / 'batch3.ini', [('batch_size = 2', 'batch_size = 3')])
    tiny_config(base / 'lr0.ini', [('learning_rate = 0.0001', 'learning_rate = 0')])
    tiny_config(base / 'typo.ini', [('base_channels = 4', 'base_chanels = 4')])
    tiny_config(base / 'section.ini', extra='\n[Netwrk Module]\nn_epochs = 1\n')
    tiny_config(base / 'typo_lambda0.ini', [('base_channels = 4', 'base_chanels = 4'), ('lambda = 100', 'lambda = 0')])
    tiny_config(base / 'wrong_section.ini', [('sigma = 4', 'sigma = 4\nbase_channels = 4')])
    (base / 'a_file').write_text('not a folder')
    for name, count in (('truncated', 5), ('short', 1)):
        (base / name).mkdir()
        for path in sorted((clip / 'frames').glob('*.jpg'))[:count]:
            (base / name / path.name).write_bytes(path.read_bytes())
    (base / 'short' / '00001.jpg').write_bytes((clip / 'frames' / '00001.jpg').read_bytes())
    truncated = base / 'truncated' / '00002.jpg'
    truncated.write_bytes(truncated.read_bytes()[:1200])
    (base / 'other_masks').mkdir()
    for index, path in enumerate(sorted((clip / 'masks').glob('*.png'))):
        (base / 'other_masks' / f'frame_{index}.png').write_bytes(path.read_bytes())
    (base / 'davis' / 'JPEGImages' / '480p').mkdir(parents=True)
    (base / 'davis' / 'JPEGImages' / '480p' / 'only').symlink_to(clip / 'frames')
    for folder in ('results', 'annotations'):
        (base / folder).mkdir()
        (base / folder / 'seq').symlink_to(clip / 'masks')
    (base / 'flow').mkdir()
    (base / 'pseudo').mkdir()
    make_bad_datasets(base, clip)
    return good


def make_bad_datasets(base: Path, clip: Path):
    """One benchmark root of each layout whose only video has ground truth that does not fit its frames,
    and a DAVIS root whose video is shorter than a batch of 3."""
    frames = sorted((clip / 'frames').glob('*.jpg'))
    masks = sorted((clip / 'masks').glob('*.png'))
    davis = base / 'davis_bad'
    (davis / 'JPEGImages' / '480p').mkdir(parents=True)
    (davis / 'JPEGImages' / '480p' / 'only').symlink_to(clip / 'frames')
    (davis / 'Annotations' / '480p').mkdir(parents=True)
    (davis / 'Annotations' / '480p' / 'only').symlink_to(base / 'other_masks')
    (base / 'davis_short' / 'JPEGImages' / '480p').mkdir(parents=True)
    (base / 'davis_short' / 'JPEGImages' / '480p' / 'short').symlink_to(base / 'short')
    segtrack = base / 'segtrack_bad'
    (segtrack / 'JPEGImages').mkdir(parents=True)
    (segtrack / 'JPEGImages' / 'video').symlink_to(clip / 'frames')
    (segtrack / 'GroundTruth' / 'video').mkdir(parents=True)
    for path in masks:  # half the frame size
        cv2.imwrite(str(segtrack / 'GroundTruth' / 'video' / path.name), cv2.resize(cv2.imread(str(path)), (40, 24)))
    shot = base / 'yto_bad' / 'aeroplane' / 'data' / '0001' / 'shots' / '001'
    shot.mkdir(parents=True)
    for number, path in enumerate(frames, start=1):
        (shot / f'frame{number:04d}.jpg').symlink_to(path)
    savemat(str(shot / 'frame0009.jpg_sticks.mat'), {'coor': np.array([[1.0, 1.0, 4.0, 4.0]])})


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp('bad_inputs')
    make_inputs(folder)
    return folder


def run_script(args, monkeypatch, capsys):
    """(exit status, stderr) of `python args...`, run in this process."""
    capsys.readouterr()
    monkeypatch.setattr(sys, 'argv', [str(a) for a in args])
    monkeypatch.chdir(REPO)
    try:
        runpy.run_path(str(REPO / args[0]), run_name='__main__')
        status = 0
    except SystemExit as exit_status:
        status = exit_status.code
    return status, capsys.readouterr().err


@pytest.mark.parametrize('case', list(cases(Path('/x'))))
def test_bad_input_is_one_line_exit_2_and_no_work(base, case, monkeypatch, capsys):
    args, expected = cases(base)[case]
    status, stderr = run_script(args, monkeypatch, capsys)
    assert 'Traceback' not in stderr, stderr
    assert status == 2, (status, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('error: '), stderr
    assert expected in lines[0], lines[0]
    assert not (base / 'OUT').exists()


def test_bad_input_through_a_subprocess(base):
    """The same as a user sees it, for one case: the real exit status of a new Python process."""
    args, expected = cases(base)['misspelled_key']
    result = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=REPO, env=ENV,
                            timeout=300)
    assert result.returncode == 2 and result.stderr.count('\n') == 1 and expected in result.stderr


def test_an_empty_shard_says_so_and_exits_0(base, tmp_path, monkeypatch, capsys):
    args = run_ike('--dataset_root', base / 'davis', '--config', base / 'good.ini', '--out_path', tmp_path / 'out',
                   '--shard', '3/5')
    monkeypatch.setattr(sys, 'argv', [str(a) for a in args])
    monkeypatch.chdir(REPO)
    runpy.run_path(str(REPO / 'run_ike.py'), run_name='__main__')
    assert 'shard 3/5: no video falls to this task' in capsys.readouterr().out
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('code, words', [(errno.ENOSPC, 'the disk is full'), (errno.EROFS, 'read-only')])
def test_a_full_or_read_only_disk_is_one_line_and_exit_2(capsys, code, words):
    def writes():
        raise OSError(code, os.strerror(code), '/somewhere/00003.pt')
    with pytest.raises(SystemExit) as exit_status:
        run_cli(writes)
    assert exit_status.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and '/somewhere/00003.pt' in lines[0]


@contextlib.contextmanager
def tmpfs(folder: Path, options: str):
    """A small tmpfs mounted on `folder` for the block (needs root: the test is skipped where mounting is
    not allowed, and the disk errors are then only simulated, in the test above)."""
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(['mount', '-t', 'tmpfs', '-o', options, 'tmpfs', str(folder)],
                                                    capture_output=True).returncode == 0
    if not mounted:
        pytest.skip('cannot mount a small tmpfs here (needs root)')
    try:
        yield folder
    finally:
        subprocess.run(['umount', '-l', str(folder)], check=True)


@pytest.fixture
def full_disk(tmp_path):
    """A real full file system: a 2 MiB tmpfs, filled up."""
    with tmpfs(tmp_path / 'disk', 'size=2m') as disk:
        with open(disk / 'filler', 'wb', buffering=0) as handle:
            with pytest.raises(OSError) as full:
                while True:
                    handle.write(bytes(1 << 16))
        assert full.value.errno == errno.ENOSPC
        yield disk


def test_a_command_on_a_really_read_only_disk_is_one_line_and_exit_2(base, tmp_path, monkeypatch, capsys):
    with tmpfs(tmp_path / 'disk', 'size=1m,ro') as disk:
        for out, words in ((disk, 'is not writable'), (disk / 'flow', 'cannot be created (Read-only file system)')):
            args = ['extract_optical_flow.py', '--frames_path', base / 'clip' / 'frames', '--out_path', out,
                    '--method', 'dis', '--quiet']
            status, stderr = run_script(args, monkeypatch, capsys)
            assert status == 2 and len(stderr.strip().splitlines()) == 1 and words in stderr, stderr


def one_line_exit_2(call, *args):
    """The one stderr line of run_cli(call, *args), which must exit with status 2."""
    with pytest.raises(SystemExit) as exit_status:
        run_cli(call, *args)
    assert exit_status.value.code == 2
    return exit_status


def test_a_command_on_a_really_full_disk_is_one_line_and_exit_2(base, full_disk, monkeypatch, capsys):
    args = ['extract_optical_flow.py', '--frames_path', base / 'clip' / 'frames', '--out_path', full_disk / 'flow',
            '--method', 'dis', '--quiet']
    status, stderr = run_script(args, monkeypatch, capsys)
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith('error: cannot write ') and 'the disk is full' in stderr and str(full_disk) in stderr


@pytest.mark.parametrize('writer', ['torch.save', 'cv2.imwrite'])
def test_tensors_and_images_on_a_really_full_disk_are_one_line_and_exit_2(full_disk, capsys, writer):
    """torch.save says only 'unexpected pos ...' and cv2.imwrite returns False on a full disk."""
    import torch
    from ike_utils.disk import save_tensor
    from ike_utils.images import write_image
    target = full_disk / ('x.pt' if writer == 'torch.save' else 'x.png')
    if writer == 'torch.save':
        one_line_exit_2(save_tensor, torch.rand(100000), target)
    else:
        one_line_exit_2(write_image, target, np.random.default_rng(0).integers(0, 255, (200, 200), np.uint8))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and 'the disk is full' in lines[0] and 'x.' in lines[0], lines


def test_the_references_paths_section_is_ignored_with_a_note(tmp_path):
    path = tiny_config(tmp_path / 'paths.ini', extra='\n[PATHS]\nFRAMES_PATH =\n')
    with pytest.warns(UserWarning, match=r'\[PATHS\] is ignored'):
        load_config(path)


def test_an_unknown_key_in_a_partial_config_is_still_found(tmp_path):
    """A graph-only config (no [Network Module]) still gets its [Graph Module] keys checked."""
    text = tiny_config(tmp_path / 'full.ini').read_text()
    graph_only = text[:text.index('[Network Module]')].replace('sigma = 4', 'sigam = 4\nsigma = 4')
    (tmp_path / 'graph.ini').write_text(graph_only)
    with pytest.raises(InputError, match='unknown key \\[Graph Module\\] sigam; did you mean sigma'):
        load_config(tmp_path / 'graph.ini')
