"""IKE+ guided filter: the closed form equals the windowed ridge fits it stands for, and it pulls a
soft map's edge onto the guide's colour edge."""
import dataclasses

import numpy as np
import pytest
import torch

from graph_module.settings import GraphSettings
from ike_utils.errors import InputError
from ike_utils.guided_filter import guided_filter
from tests.test_pixel_features import GRAPH_SECTION, _config


def _windowed_fits(guide, source, radius, eps):
    """The definition, one window at a time: in the window of every pixel k (clipped to the image) fit
    p ~ a . I + b by least squares with eps * |window| * |a|^2 added; each pixel's output is the mean
    of a . I_i + b over the windows that hold it."""
    height, width = source.shape
    fits = np.zeros((height, width, 4))
    for y in range(height):
        for x in range(width):
            rows = slice(max(0, y - radius), y + radius + 1)
            cols = slice(max(0, x - radius), x + radius + 1)
            colours = guide[rows, cols].reshape(-1, 3)
            values = source[rows, cols].reshape(-1)
            design = np.concatenate([colours, np.ones((len(values), 1))], axis=1)
            penalty = np.sqrt(eps * len(values)) * np.eye(3, 4)  # a is penalised, b is not
            fits[y, x] = np.linalg.lstsq(np.concatenate([design, penalty]),
                                         np.concatenate([values, np.zeros(3)]), rcond=None)[0]
    output = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            window = fits[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1].reshape(-1, 4)
            output[y, x] = np.mean(window[:, :3] @ guide[y, x] + window[:, 3])
    return output


def test_guided_filter_is_the_mean_of_windowed_ridge_fits():
    rng = np.random.default_rng(0)
    guide = rng.random((2, 9, 11, 3))
    source = rng.random((2, 9, 11))
    filtered = guided_filter(torch.from_numpy(guide), torch.from_numpy(source), radius=2, eps=0.01)
    expected = np.stack([_windowed_fits(g, s, 2, 0.01) for g, s in zip(guide, source)])
    assert filtered.dtype == torch.float32 and filtered.shape == (2, 9, 11)
    np.testing.assert_allclose(filtered.numpy(), expected, atol=2e-5)


def test_guided_filter_moves_a_soft_edge_onto_the_colour_edge():
    """The object (red, columns >= 20) and a soft map whose edge is blurred and 3 pixels off (at 17)."""
    height, width = 24, 40
    guide = np.zeros((1, height, width, 3), np.float32)
    guide[..., :20, 2] = 0.8  # blue background
    guide[..., 20:, 0] = 0.9  # red object
    columns = np.arange(width, dtype=np.float32)
    soft = np.broadcast_to(1 / (1 + np.exp(-(columns - 17) / 2)), (1, height, width)).copy()
    filtered = guided_filter(torch.from_numpy(guide), torch.from_numpy(soft), radius=6, eps=3e-4)[0].numpy()
    truth = np.broadcast_to(columns >= 20, (height, width))
    before, after = soft >= 0.5, filtered >= 0.5
    assert (before[0] != truth).sum() == 3 * height
    assert (after != truth).sum() == 0
    assert (filtered[:, 20] - filtered[:, 19]).min() > 0.4  # a sharp step where the colour changes
    assert filtered[:, 20:].min() > 0.9 and filtered[:, :8].max() < 0.1


def test_guided_filter_keys_are_off_by_default_and_checked():
    assert GraphSettings.from_config(_config(GRAPH_SECTION)).guided_filter_radius == 0
    chosen = GraphSettings.from_config(_config(GRAPH_SECTION + 'guided_filter_radius = 8\nguided_filter_eps = 1e-3\n'))
    assert (chosen.guided_filter_radius, chosen.guided_filter_eps) == (8, 1e-3)
    for bad in ('guided_filter_radius = -1', 'guided_filter_radius = 2.5', 'guided_filter_eps = 0'):
        with pytest.raises(InputError, match=bad.split(' ')[0]):
            GraphSettings.from_config(_config(GRAPH_SECTION + bad + '\n'))


def test_graph_module_refines_only_its_output(tmp_path):
    """run_graph_module with the filter: the earlier saved iterations are as without it, the output
    differs, stays in [0, 1] and still segments the synthetic clip."""
    from graph_module.run import run_graph_module
    from ike_utils.synthetic import make_clip, write_clip
    n, height, width = 12, 48, 80
    clip = make_clip(n_frames=n, height=height, width=width)
    folder = write_clip(clip, tmp_path / 'clip')
    plain = dataclasses.replace(GraphSettings.from_config(_config(GRAPH_SECTION)), working_h=height,
                                working_w=width, n_iterations=6, to_save_iterations=(4, 5))
    refined = dataclasses.replace(plain, guided_filter_radius=4)
    maps = {}
    for name, settings in (('plain', plain), ('refined', refined)):
        run_graph_module(folder / 'frames', folder / 'flow', tmp_path / name, settings, torch.device('cpu'),
                         quiet=True)
        maps[name] = {k: torch.stack([torch.load(tmp_path / name / f'iter_{k}' / ('%05d.pt' % t))[..., 0]
                                      for t in range(n)]) for k in (4, 5)}
    assert torch.equal(maps['plain'][4], maps['refined'][4])
    output = maps['refined'][5]
    assert not torch.equal(output, maps['plain'][5])
    assert output.min() >= 0 and output.max() <= 1
    masks = output.numpy() >= 0.5
    assert np.mean([(m & t).sum() / (m | t).sum() for m, t in zip(masks, clip.masks)]) > 0.9


def test_network_predictions_are_the_guided_filter_of_the_plain_ones(tmp_path):
    """The same seeded training with and without [Network Module] guided_filter_radius: the saved
    predictions are refine_maps of the plain ones, with the frames as read from disk as guides."""
    from ike_utils.frames import list_frames
    from ike_utils.guided_filter import refine_maps
    from network_helpers import make_clip
    from network_module.settings import NetworkSettings
    from network_module.train import run_network
    frames, pseudo, _ = make_clip(tmp_path, n_frames=4)
    plain = NetworkSettings(working_h=32, working_w=64, n_epochs=1, batch_size=2, learning_rate=1e-3,
                            to_save_epochs=(1,), base_channels=8)
    refined = dataclasses.replace(plain, guided_filter_radius=3, guided_filter_eps=1e-3)
    outputs = {}
    for name, settings in (('plain', plain), ('refined', refined)):
        folder = run_network(frames, pseudo, tmp_path / name, settings, 'cpu', seed=1, quiet=True)[0]
        outputs[name] = torch.stack([torch.load(folder / f'{i:05d}.pt')[..., 0] for i in range(4)])
    expected = refine_maps(list_frames(frames), outputs['plain'], 3, 1e-3)
    assert torch.allclose(outputs['refined'], expected, atol=1e-6)
    assert not torch.allclose(outputs['refined'], outputs['plain'], atol=1e-3)
    with pytest.raises(InputError, match='guided_filter_radius'):
        NetworkSettings.from_config(_config('[General]\nworking_h = 32\nworking_w = 64\n[Network Module]\n'
                                            'n_epochs = 1\nbatch_size = 2\nlearning_rate = 1e-3\n'
                                            'to_save_epochs = 1\nguided_filter_radius = -2\n'))
