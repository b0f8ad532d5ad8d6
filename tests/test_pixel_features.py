"""IKE+ pixel features: camera motion is removed, colour and position are what they say."""
import numpy as np
import pytest
import torch

from graph_module.pixel_features import (PIXEL_FEATURES, camera_flow, colour, compute_pixel_maps, motion_prior,
                                         pixel_feature_blocks, position, relative_motion)
from graph_module.settings import GraphSettings
from ike_utils.config import Config
from ike_utils.errors import InputError

HEIGHT, WIDTH = 48, 80


def _zoom_and_pan(scale=1.03, dx=2.5, dy=-1.0):
    """The flow of a camera that zooms about the centre and pans: H x W x 2."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    cx, cy = WIDTH / 2, HEIGHT / 2
    u = (x - cx) * (scale - 1) + dx
    v = (y - cy) * (scale - 1) + dy
    return np.stack([u, v], axis=-1).astype(np.float32)


def test_camera_flow_explains_a_homography_and_leaves_an_object_out():
    flow = _zoom_and_pan()
    assert np.abs(camera_flow(flow) - flow).max() < 1e-3
    moving = flow.copy()
    moving[10:20, 30:45] += (4.0, 3.0)  # an object moving against the camera
    residual = np.linalg.norm(moving - camera_flow(moving), axis=-1)
    assert residual[10:20, 30:45].min() > 4.5  # |(4, 3)| = 5
    background = np.ones_like(residual, dtype=bool)
    background[8:22, 28:47] = False
    assert residual[background].max() < 0.05


def test_relative_motion_is_high_on_the_object_only():
    n = 4
    flow = _zoom_and_pan()
    flow[10:20, 30:45] += (4.0, 3.0)
    fwd = torch.from_numpy(np.stack([flow] * (n - 1)))
    bwd = -fwd
    motion = relative_motion(fwd, bwd)
    assert motion.shape == (n, 1, HEIGHT, WIDTH)
    assert float(motion.max()) <= 1.0
    assert float(motion[:, 0, 10:20, 30:45].min()) > 0.9
    assert float(motion[:, 0, :5].max()) < 0.02


def test_colour_and_position():
    frames = torch.zeros(2, HEIGHT, WIDTH, 3)
    frames[:, :, WIDTH // 2:] = 1  # left black, right white
    lab = colour(None, None, frames)
    assert lab.shape == (2, 3, HEIGHT, WIDTH)
    assert torch.allclose(lab[:, 0, :, :WIDTH // 2], torch.zeros(1))
    assert torch.allclose(lab[:, 0, :, WIDTH // 2:], torch.ones(1), atol=1e-3)
    assert lab[:, 1:].abs().max() < 1e-2  # grey has no chroma
    fwd = torch.zeros(1, HEIGHT, WIDTH, 2)
    xy = position(fwd, fwd)
    assert xy.shape == (2, 2, HEIGHT, WIDTH)
    assert xy[0, 0, 0, 0] == 0 and xy[0, 0, 0, -1] == 1 and xy[0, 1, -1, 0] == 1


def test_blocks_are_one_normalisation_group_per_channel():
    fwd = torch.from_numpy(np.stack([_zoom_and_pan()] * 2))
    frames = torch.rand(3, HEIGHT, WIDTH, 3)
    names = ('relative_motion', 'colour', 'position')
    blocks = pixel_feature_blocks(names, compute_pixel_maps(names, fwd, -fwd, frames))
    assert [b.group for b in blocks] == ['relative_motion 0', 'colour 0', 'colour 1', 'colour 2',
                                         'position 0', 'position 1']
    assert [b.columns for b in blocks] == [3, 1, 1, 1, 1, 1]  # relative motion over p-1..p+1


def _config(text):
    import configparser
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return Config(parser, 'test.ini')


GRAPH_SECTION = """[General]
working_h = 8
working_w = 8
[Graph Module]
seed_type = 0
sigma = 4
n_iterations = 2
to_save_iterations = 1
dir_features_half_chain_size = 5
features_half_chain_size = 1
lambda = 100
"""


def test_pixel_features_key_is_off_by_default_and_checked():
    assert GraphSettings.from_config(_config(GRAPH_SECTION)).pixel_features == ()
    chosen = GraphSettings.from_config(_config(GRAPH_SECTION + 'pixel_features = colour, relative_motion\n'))
    assert chosen.pixel_features == ('colour', 'relative_motion')
    with pytest.raises(InputError, match='pixel_features'):
        GraphSettings.from_config(_config(GRAPH_SECTION + 'pixel_features = color\n'))
    assert set(PIXEL_FEATURES) == {'relative_motion', 'colour', 'position'}
    assert GraphSettings.from_config(_config(GRAPH_SECTION)).motion_prior is None
    assert GraphSettings.from_config(_config(GRAPH_SECTION + 'motion_prior = 0.1\n')).motion_prior == 0.1
    with pytest.raises(InputError, match='motion_prior'):
        GraphSettings.from_config(_config(GRAPH_SECTION + 'motion_prior = 0\n'))


def test_motion_prior_weighs_moving_nodes_and_keeps_a_floor():
    motion = torch.tensor([[[[0.0, 0.5], [1.0, 0.25]]]])
    assert torch.equal(motion_prior(motion, 0.1), torch.tensor([[0.1, 0.6, 1.1, 0.35]]))


def test_graph_options_are_off_in_the_paper_configs_and_on_in_the_preset():
    from dataclasses import asdict
    from pathlib import Path
    from ike_utils.config import load_config
    repo = Path(__file__).resolve().parents[1]
    later_cycle = ('network/results_pt/epoch_00005',)  # with network cues, as from the second cycle on
    for name in ('config.ini', 'configs/cpu.ini'):
        settings = GraphSettings.from_config(load_config(repo / name), features_paths=later_cycle)
        assert (settings.pixel_features, settings.motion_prior, settings.guided_filter_radius,
                settings.cue_blend) == ((), None, 0, 0)
    cpu = asdict(GraphSettings.from_config(load_config(repo / 'configs/cpu.ini'), features_paths=later_cycle))
    plus = asdict(GraphSettings.from_config(load_config(repo / 'configs/ike_plus.ini'), features_paths=later_cycle))
    assert {k: v for k, v in plus.items() if cpu[k] != v} == {
        'working_h': 112, 'working_w': 208, 'pixel_features': ('relative_motion', 'colour', 'position'),
        'motion_prior': 0.1, 'guided_filter_radius': 8, 'cue_blend': 0.5, 'feature_cache_mib': 512}


def test_motion_prior_pulls_the_power_iteration_onto_the_object_when_the_camera_pans():
    """A synthetic clip whose background moves fast (a panning camera): the prior lifts J to 1."""
    from graph_module.build import GraphBuilder
    from graph_module.features import feature_blocks
    from graph_module.power_iteration import power_iterations
    from graph_module.regression import ridge_inverses
    from graph_module.seeds import seed_map
    from ike_utils.synthetic import make_clip
    n, height, width = 12, 48, 80
    clip = make_clip(n_frames=n, height=height, width=width, background_velocity=(-2.0, 0.8))
    fwd, bwd = torch.from_numpy(clip.fwd_flows), torch.from_numpy(clip.bwd_flows)

    def segment(prior):
        builder = GraphBuilder(n, height, width, 4.0, feature_blocks(5, -1), 'cpu')
        builder.build(fwd, bwd)
        graph, design = builder.finish()
        seed = seed_map(0, height, width).reshape(1, -1).repeat(n, 1)
        maps = power_iterations(graph, design, ridge_inverses(design, 100.0), seed, 10, prior=prior)
        masks = maps.view(n, height, width).numpy() >= 0.5
        return np.mean([(m & t).sum() / (m | t).sum() for m, t in zip(masks, clip.masks)])

    motion = compute_pixel_maps(['relative_motion'], fwd, bwd, None)['relative_motion']
    plain, weighted = segment(None), segment(motion_prior(motion, 0.1))
    assert plain < 0.95 and weighted > 0.99


def test_graph_module_with_the_ike_plus_keys_segments_a_panning_clip(tmp_path):
    """run_graph_module end to end (frames and flows from disk) with pixel features and the prior."""
    from dataclasses import replace
    from ike_utils.synthetic import make_clip, write_clip
    from graph_module.run import run_graph_module
    n, height, width = 12, 48, 80
    clip = make_clip(n_frames=n, height=height, width=width, background_velocity=(-2.0, 0.8))
    folder = write_clip(clip, tmp_path / 'clip')
    faithful = replace(GraphSettings.from_config(_config(GRAPH_SECTION)), working_h=height, working_w=width,
                       n_iterations=10, to_save_iterations=(9,))
    plus = replace(faithful, pixel_features=tuple(PIXEL_FEATURES), motion_prior=0.1)

    def j_mean(settings, name):
        run_graph_module(folder / 'frames', folder / 'flow', tmp_path / name, settings, torch.device('cpu'), quiet=True)
        maps = [torch.load(tmp_path / name / 'iter_9' / ('%05d.pt' % t))[..., 0].numpy() >= 0.5 for t in range(n)]
        return np.mean([(m & t).sum() / (m | t).sum() for m, t in zip(maps, clip.masks)])

    assert j_mean(plus, 'plus') > max(0.97, j_mean(faithful, 'faithful'))
