"""Training the network module on tiny synthetic clips: outputs, learning, repeatability, bad input."""
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ike_utils.config import load_config
from ike_utils.errors import InputError
from network_module.data import load_video
from network_module.settings import NetworkSettings
from ike_utils.frames import list_frames
from network_module.train import network_stage, run_network
from network_helpers import make_clip, record_convolutions, record_training_batches, write_config

REPO = Path(__file__).resolve().parent.parent
TINY = NetworkSettings(working_h=32, working_w=64, n_epochs=3, batch_size=2, learning_rate=1e-3,
                       to_save_epochs=(1, 2, 3), base_channels=8)


def iou(a, b):
    return np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One tiny run (frames 40x72 on disk, working size 32x64), shared by the output checks."""
    root = tmp_path_factory.mktemp('clip')
    frames, pseudo, masks = make_clip(root, n_frames=5, frame_size=(40, 72))
    out = root / 'out'
    folders = run_network(frames, pseudo, out, TINY, 'cpu', seed=0, quiet=True)
    return frames, pseudo, out, folders


def test_every_saved_epoch_has_checkpoint_predictions_and_pngs(trained):
    frames, pseudo, out, folders = trained
    assert folders == [out / 'results_pt' / f'epoch_{e:05d}' for e in (1, 2, 3)]
    for epoch in (1, 2, 3):
        name = f'epoch_{epoch:05d}'
        pts = sorted((out / 'results_pt' / name).iterdir())
        assert [p.name for p in pts] == [f'{i:05d}.pt' for i in range(5)]
        for path in pts:
            value = torch.load(path)
            assert value.shape == (32, 64, 1) and value.dtype == torch.float32
            assert 0 <= value.min() and value.max() <= 1
        pngs = sorted((out / 'results_images' / name).iterdir())
        assert [p.name for p in pngs] == [f'{i:05d}.png' for i in range(5)]
        image = cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED)
        assert image.shape == (40, 72) and image.dtype == np.uint8  # original frame size
        checkpoint = torch.load(out / 'models' / f'{name}.pt')
        assert checkpoint['epoch'] == epoch and checkpoint['settings'] == TINY.as_dict()
        assert checkpoint['state_dict']['in_conv.conv.weight'].shape == (8, 3, 7, 7)
    assert not any(p.name.startswith('.') for p in out.rglob('*'))  # no temporary leftovers


def test_loss_goes_down(trained):
    losses = json.loads((trained[2] / 'stage.json').read_text())['result']['mean_train_losses']
    assert len(losses) == 3 and losses[2] < losses[0] * 0.9


def test_finished_run_is_recognised_and_skipped(trained):
    frames, pseudo, out, folders = trained
    files = list_frames(frames)
    assert network_stage(files, pseudo, out, TINY, seed=0).is_done()
    assert not network_stage(files, pseudo, out, TINY, seed=1).is_done()
    assert not network_stage(files, pseudo, out, replace(TINY, learning_rate=1e-4), seed=0).is_done()
    stamp = (out / 'models' / 'epoch_00003.pt').stat().st_mtime_ns
    assert run_network(frames, pseudo, out, TINY, 'cpu', seed=0, quiet=True) == folders
    assert (out / 'models' / 'epoch_00003.pt').stat().st_mtime_ns == stamp


def test_overfits_a_clip_with_a_known_mask(tmp_path):
    frames, pseudo, masks = make_clip(tmp_path, n_frames=6)
    settings = replace(TINY, n_epochs=30, to_save_epochs=(30,))
    [folder] = run_network(frames, pseudo, tmp_path / 'out', settings, 'cpu', seed=0, quiet=True)
    for index, mask in enumerate(masks):
        predicted = torch.load(folder / f'{index:05d}.pt')[..., 0].numpy() >= 0.5
        assert iou(predicted, mask > 0) > 0.9, f'frame {index}'


def test_batches_are_shuffled_each_epoch_by_the_seed_and_the_last_partial_one_dropped(tmp_path):
    frames, pseudo, _ = make_clip(tmp_path, n_frames=5)
    images = load_video(frames, pseudo, 32, 64, min_frames=1)[0]
    settings = replace(TINY, n_epochs=3, to_save_epochs=(3,))
    orders, runs = {}, {}
    for name, seed in (('a', 7), ('b', 7), ('c', 8)):
        with record_training_batches(images) as orders[name]:
            [runs[name]] = run_network(frames, pseudo, tmp_path / name, settings, 'cpu', seed=seed, quiet=True)
    for order in orders.values():
        # 5 frames in batches of 2: two batches per epoch, so one frame is left out of each epoch
        assert len(order) == 6 and all(len(batch) == 2 for batch in order)
        epochs = [sum(order[i:i + 2], []) for i in (0, 2, 4)]
        assert all(len(set(epoch)) == 4 for epoch in epochs)
        assert len({tuple(epoch) for epoch in epochs}) == 3  # a new order every epoch
    assert orders['a'] == orders['b'] and orders['a'] != orders['c']
    weights = {name: torch.load(tmp_path / name / 'models' / 'epoch_00003.pt')['state_dict'] for name in runs}
    assert all(torch.equal(weights['a'][k], weights['b'][k]) for k in weights['a'])
    assert not torch.equal(weights['a']['out_conv.weight'], weights['c']['out_conv.weight'])
    for index in range(5):
        assert torch.equal(torch.load(runs['a'] / f'{index:05d}.pt'), torch.load(runs['b'] / f'{index:05d}.pt'))


@pytest.mark.parametrize('precision, channels_last', [('fp32', 'false'), ('bf16', 'true'), ('bf16', 'false'),
                                                      ('fp32', 'true')])
def test_configured_precision_and_memory_format_reach_the_convolutions(tmp_path, precision, channels_last):
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    config = write_config(tmp_path / 'c.ini', n_epochs=1, to_save_epochs='1', precision=precision,
                          channels_last=channels_last)
    settings = NetworkSettings.from_config(load_config(config))
    with record_convolutions() as convolutions:
        [folder] = run_network(frames, pseudo, tmp_path / 'out', settings, 'cpu', seed=0, quiet=True)
    # 2 training steps and 2 prediction batches, each through the 50 convolutions the forward pass uses
    assert len(convolutions) == 4 * 50 and {c['training'] for c in convolutions} == {True, False}
    dtype = torch.bfloat16 if precision == 'bf16' else torch.float32
    assert {c['dtype'] for c in convolutions} == {dtype}
    in_channels_last = channels_last == 'true'
    assert {c['input_channels_last'] for c in convolutions} == {in_channels_last}
    assert {c['output_channels_last'] for c in convolutions} == {in_channels_last}
    assert {c['weight_channels_last'] for c in convolutions} == {in_channels_last, None}
    value = torch.load(folder / '00000.pt')
    assert value.shape == (32, 64, 1) and value.dtype == torch.float32 and 0 <= value.min() <= value.max() <= 1
    weights = torch.load(tmp_path / 'out' / 'models' / 'epoch_00001.pt')['state_dict']
    assert weights['block_5.conv_block_1.conv.weight'].dtype == torch.float32  # master weights stay fp32


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize('native, expected', [(False, torch.float32), (True, torch.bfloat16)])
def test_auto_precision_is_bf16_only_where_the_device_has_it_and_the_stage_records_what_ran(
        tmp_path, monkeypatch, native, expected):
    monkeypatch.setattr('network_module.settings.has_native_bf16', lambda device: native)
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    config = write_config(tmp_path / 'c.ini', n_epochs=1, to_save_epochs='1', precision='auto')
    settings = NetworkSettings.from_config(load_config(config))
    with record_convolutions() as convolutions:
        run_network(frames, pseudo, tmp_path / 'out', settings, 'cpu', seed=0, quiet=True)
    assert {c['dtype'] for c in convolutions} == {expected}
    recorded = json.loads((tmp_path / 'out' / 'stage.json').read_text())
    assert json.dumps(recorded).count('"precision": "%s"' % ('bf16' if native else 'fp32')) == 1


def test_explicit_bf16_on_a_cpu_that_emulates_it_warns(monkeypatch):
    monkeypatch.setattr('network_module.settings.has_native_bf16', lambda device: False)
    with pytest.warns(UserWarning, match='precision = auto'):
        assert NetworkSettings(precision='bf16').for_device(torch.device('cpu')).precision == 'bf16'


def _bad_clip(tmp_path, change):
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    change(frames, pseudo)
    with pytest.raises(InputError) as error:
        run_network(frames, pseudo, tmp_path / 'out', TINY, 'cpu', quiet=True)
    message = str(error.value)
    assert '\n' not in message
    assert not (tmp_path / 'out').exists()  # nothing written
    return message


def test_fewer_pseudo_labels_than_frames(tmp_path):
    message = _bad_clip(tmp_path, lambda f, p: (p / '00003.pt').unlink())
    assert 'lacks 00003.pt' in message and '3 .pt file(s) for 4 frames' in message


def test_more_pseudo_labels_than_frames(tmp_path):
    message = _bad_clip(tmp_path, lambda f, p: torch.save(torch.zeros(32, 64, 1), p / '00004.pt'))
    assert 'extra file 00004.pt' in message


def test_frames_folder_that_does_not_match(tmp_path):
    message = _bad_clip(tmp_path, lambda f, p: (f / '00002.png').unlink())
    assert '3 frames' in message and 'same video' in message


def test_frames_of_different_sizes(tmp_path):
    message = _bad_clip(tmp_path, lambda f, p: cv2.imwrite(str(f / '00001.png'), np.zeros((10, 10, 3), np.uint8)))
    assert '00001.png' in message and 'same size' in message


@pytest.mark.parametrize('label, expected', [
    (torch.zeros(32, 64), 'shape (32, 64)'),
    (torch.zeros(16, 32, 1), 'shape (16, 32, 1)'),
    (torch.full((32, 64, 1), float('nan')), 'NaN'),
    (torch.full((32, 64, 1), 1.5), 'outside [0, 1]'),
    (torch.full((32, 64, 1), -0.2), 'outside [0, 1]'),
    (torch.zeros(32, 64, 1, dtype=torch.uint8), 'not a float tensor'),
])
def test_bad_pseudo_label(tmp_path, label, expected):
    message = _bad_clip(tmp_path, lambda f, p: torch.save(label, p / '00001.pt'))
    assert '00001.pt' in message and expected in message


@pytest.mark.parametrize('write', [lambda path: path.write_bytes(b'not a torch file'),
                                   lambda path: torch.save(np.zeros((32, 64, 1), np.float32), path)])
def test_pseudo_label_file_that_is_not_a_tensor(tmp_path, write):
    message = _bad_clip(tmp_path, lambda f, p: write(p / '00001.pt'))
    assert '00001.pt cannot be loaded as a tensor' in message


def test_fewer_frames_than_one_batch(tmp_path):
    frames, pseudo, _ = make_clip(tmp_path, n_frames=2)
    with pytest.raises(InputError, match='fewer than one batch'):
        run_network(frames, pseudo, tmp_path / 'out', replace(TINY, batch_size=3), 'cpu', quiet=True)


def test_working_size_must_be_a_multiple_of_16():
    with pytest.raises(InputError, match='working_w = 60 must be a positive multiple of 16'):
        replace(TINY, working_w=60)


# -- command line --------------------------------------------------------------------------------

def _main(*args):
    return subprocess.run([sys.executable, str(REPO / 'main.py'), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_command_line_run(tmp_path):
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    config = write_config(tmp_path / 'c.ini', n_epochs=2, to_save_epochs='2')
    result = _main('--frames_path', frames, '--pseudo_gt_path', pseudo, '--out_path', tmp_path / 'out',
                   '--config_file', config, '--device', 'cpu', '--seed', 1, '--quiet')
    assert result.returncode == 0, result.stderr
    assert result.stderr == ''  # --quiet: no bars; the one line of stdout says where the predictions are
    assert result.stdout == f'network: predictions in {tmp_path / "out" / "results_pt" / "epoch_00002"}\n'
    assert len(list((tmp_path / 'out' / 'results_pt' / 'epoch_00002').glob('*.pt'))) == 4
    assert not (tmp_path / 'out' / 'results_pt' / 'epoch_00001').exists()
    again = _main('--frames_path', frames, '--pseudo_gt_path', pseudo, '--out_path', tmp_path / 'out',
                  '--config_file', config, '--device', 'cpu', '--seed', 1, '--quiet')
    assert again.returncode == 0 and again.stdout == (
        f'network: predictions already in (same inputs and settings) {tmp_path / "out" / "results_pt" / "epoch_00002"}\n')


def test_command_line_bad_input_is_one_line_and_exit_status_2(tmp_path):
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    torch.save(torch.full((32, 64, 1), float('nan')), pseudo / '00002.pt')
    config = write_config(tmp_path / 'c.ini')
    result = _main('--frames_path', frames, '--pseudo_gt_path', pseudo, '--out_path', tmp_path / 'out',
                   '--config', config, '--quiet')
    assert result.returncode == 2
    assert result.stderr.startswith('error: pseudo label') and result.stderr.count('\n') == 1
    assert 'NaN' in result.stderr


def test_video_frames_stay_uint8_and_give_the_reference_floats(tmp_path):
    """A long video's frames are kept as uint8 at working size (a quarter of float32) and made into
    RGB / 255 float32 a batch at a time: exactly the numbers of resizing and dividing in float64 at
    once, as the reference does."""
    from ike_utils.frames import list_frames, load_frames
    frames, pseudo, _ = make_clip(tmp_path, n_frames=5, frame_size=(45, 70))
    video, labels, original_size = load_video(frames, pseudo, 32, 64, min_frames=1)
    assert video.images.dtype == torch.uint8 and video.shape == (5, 3, 32, 64) and len(video) == 5
    assert original_size == (45, 70) and labels.shape == (5, 32, 64)
    expected = load_frames(list_frames(frames), 32, 64, rgb=True)[0].permute(0, 3, 1, 2)
    batch = torch.tensor([3, 0])
    assert video[batch].dtype == torch.float32 and torch.equal(video[batch], expected[batch])
    assert torch.equal(video[1:4], expected[1:4])
    assert all(torch.equal(frame, expected[i]) for i, frame in enumerate(video))
