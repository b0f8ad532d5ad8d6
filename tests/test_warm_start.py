"""IKE+ warm start ([Network Module] warm_start_epochs): a later cycle's network goes on from the
weights of the one before instead of starting from scratch, and trains warm_start_epochs epochs."""
import json
import shutil
from dataclasses import replace

import pytest
import torch

from ike_utils.config import load_config
from ike_utils.errors import InputError
from network_helpers import make_clip
from network_module.settings import NetworkSettings
from network_module.train import checkpoint_path, run_network
from pipeline.video import LoopOptions, run_video
from tests.test_pipeline import clip, record_stamps, redone
from tests.test_pixel_features import _config
from pipeline_helpers import tiny_config

pytestmark = pytest.mark.usefixtures('single_thread')

TINY = NetworkSettings(working_h=32, working_w=64, n_epochs=2, batch_size=2, learning_rate=1e-3,
                       to_save_epochs=(2,), base_channels=8)
BASE = ('[General]\nworking_h = 32\nworking_w = 64\n[Network Module]\nn_epochs = 5\nbatch_size = 2\n'
        'learning_rate = 1e-3\nto_save_epochs = 5\n')


def maps(folder, n):
    return torch.stack([torch.load(folder / f'{i:05d}.pt')[..., 0] for i in range(n)])


def test_warm_start_is_off_by_default_and_checked():
    plain = NetworkSettings.from_config(_config(BASE))
    assert plain.warm_start_epochs == 0 and 'warm_start_epochs' not in plain.as_dict()
    warm = NetworkSettings.from_config(_config(BASE + 'warm_start_epochs = 2\n'))
    assert (warm.warm_started().n_epochs, warm.warm_started().to_save_epochs) == (2, (2,))
    with pytest.raises(InputError, match='warm_start_epochs'):
        NetworkSettings.from_config(_config(BASE + 'warm_start_epochs = -1\n'))


def test_a_warm_started_network_goes_on_from_the_checkpoint(tmp_path):
    """At a learning rate too small to move the weights, a network started from a checkpoint predicts
    what that checkpoint predicts; one from scratch (same seed) does not."""
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    [first] = run_network(frames, pseudo, tmp_path / 'first', TINY, 'cpu', seed=1, quiet=True)
    still = replace(TINY, learning_rate=1e-12, n_epochs=1, to_save_epochs=(1,))
    [warm] = run_network(frames, pseudo, tmp_path / 'warm', still, 'cpu', seed=2, quiet=True,
                         initial_weights=checkpoint_path(tmp_path / 'first', 2))
    [cold] = run_network(frames, pseudo, tmp_path / 'cold', still, 'cpu', seed=2, quiet=True)
    assert torch.allclose(maps(warm, 4), maps(first, 4), atol=1e-4)
    assert not torch.allclose(maps(cold, 4), maps(first, 4), atol=1e-2)
    record = json.loads((tmp_path / 'warm' / 'stage.json').read_text())
    assert record['sources']['initial_weights'] == [str(checkpoint_path(tmp_path / 'first', 2))]


def test_a_bad_checkpoint_to_start_from_is_named(tmp_path):
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    (tmp_path / 'bad.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(InputError, match='bad.pt'):
        run_network(frames, pseudo, tmp_path / 'out', TINY, 'cpu', quiet=True, initial_weights=tmp_path / 'bad.pt')
    run_network(frames, pseudo, tmp_path / 'narrow', replace(TINY, base_channels=4), 'cpu', seed=0, quiet=True)
    with pytest.raises(InputError, match='base_channels'):
        run_network(frames, pseudo, tmp_path / 'out', TINY, 'cpu', quiet=True,
                    initial_weights=checkpoint_path(tmp_path / 'narrow', 2))


def test_the_loop_warm_starts_the_second_network_only(tmp_path):
    """warm_start_epochs = 1 added to a finished 3-cycle run: the first network stays done (it starts
    from scratch either way); the second is redone from the first's checkpoint, for one epoch, and
    the third graph pass reads its predictions."""
    video = clip(tmp_path / 'clip')
    config = tiny_config(tmp_path / 'tiny.ini')
    options = LoopOptions(cycles=3, flow_method='dis', seed=0)
    out = tmp_path / 'out'
    run_video(video / 'frames', out, load_config(config), options, torch.device('cpu'))
    before = record_stamps(out)
    config.write_text(config.read_text().replace('[Network Module]\n', '[Network Module]\nwarm_start_epochs = 1\n'))
    run_video(video / 'frames', out, load_config(config), options, torch.device('cpu'))
    assert redone(before, record_stamps(out)) == ['cycle_2/network', 'cycle_3/graph', 'final']
    second = json.loads((out / 'cycle_2' / 'network' / 'stage.json').read_text())
    assert second['sources']['initial_weights'] == [str(checkpoint_path(out / 'cycle_1' / 'network', 2))]
    assert len(second['result']['mean_train_losses']) == 1
    third = json.loads((out / 'cycle_3' / 'graph' / 'stage.json').read_text())
    assert third['sources']['features'] == [str(out / 'cycle_2' / 'network' / 'results_pt' / 'epoch_00001')]
    assert not (out / 'cycle_2' / 'network' / 'results_pt' / 'epoch_00002').exists()


def test_the_loop_drops_the_flip_of_the_warm_started_network_only(tmp_path):
    """warm_start_test_time_flip = false added to a finished warm-started run with the test-time
    flip: the first network stays done (it keeps its flip); the second is redone without it."""
    video = clip(tmp_path / 'clip')
    config = tiny_config(tmp_path / 'tiny.ini')
    config.write_text(config.read_text().replace(
        '[Network Module]\n', '[Network Module]\nwarm_start_epochs = 1\ntest_time_flip = true\n'))
    options = LoopOptions(cycles=3, flow_method='dis', seed=0)
    out = tmp_path / 'out'
    run_video(video / 'frames', out, load_config(config), options, torch.device('cpu'))
    before = record_stamps(out)
    config.write_text(config.read_text().replace('[Network Module]\n',
                                                 '[Network Module]\nwarm_start_test_time_flip = false\n'))
    run_video(video / 'frames', out, load_config(config), options, torch.device('cpu'))
    assert redone(before, record_stamps(out)) == ['cycle_2/network', 'cycle_3/graph', 'final']
    flips = [json.loads((out / f'cycle_{c}' / 'network' / 'stage.json').read_text())['settings']['test_time_flip']
             for c in (1, 2)]
    assert flips == [True, False]
