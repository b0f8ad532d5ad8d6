"""IKE+ cue blend ([Graph Module] cue_blend): a graph pass's output is (1 - w) of its own map plus w of
the network map it was given as cues; and flips-only augmentation ([Network Module] augment_min_crop = 1)."""
import dataclasses

import numpy as np
import pytest
import torch

from graph_module.settings import GraphSettings
from ike_utils.errors import InputError
from network_module.augment import augment_batch
from tests.test_pixel_features import GRAPH_SECTION, _config


def test_cue_blend_is_off_by_default_needs_cues_and_is_checked():
    assert GraphSettings.from_config(_config(GRAPH_SECTION)).cue_blend == 0
    with_blend = _config(GRAPH_SECTION + 'cue_blend = 0.5\n')
    assert GraphSettings.from_config(with_blend).cue_blend == 0  # no cues in the first cycle: nothing to blend
    assert GraphSettings.from_config(with_blend, features_paths=('net',)).cue_blend == 0.5
    for bad in ('cue_blend = -0.1', 'cue_blend = 1.5', 'cue_blend = half'):
        with pytest.raises(InputError, match='cue_blend'):
            GraphSettings.from_config(_config(GRAPH_SECTION + bad + '\n'), features_paths=('net',))


def test_records_of_runs_without_the_blend_are_unchanged():
    """A graph stage recorded before cue_blend existed stays done: the key is left out while off."""
    plain = GraphSettings.from_config(_config(GRAPH_SECTION), features_paths=('net',))
    recorded = plain.recorded_values()
    assert 'cue_blend' not in recorded and 'feature_cache_mib' not in recorded
    assert recorded['features_paths'] == 1
    assert dataclasses.replace(plain, cue_blend=0.5).recorded_values()['cue_blend'] == 0.5


def test_graph_output_is_the_blend_of_its_map_and_the_network_map(tmp_path):
    """The same graph pass with and without the blend: the earlier iterations are the same, the
    output is 0.6 graph + 0.4 network (the cue folder's map at the pivot frame)."""
    from graph_module.run import run_graph_module
    from ike_utils.synthetic import make_clip, write_clip
    n, height, width = 10, 40, 64
    clip = make_clip(n_frames=n, height=height, width=width)
    folder = write_clip(clip, tmp_path / 'clip')
    cues = tmp_path / 'network'
    cues.mkdir()
    network_maps = torch.rand(n, height, width, generator=torch.Generator().manual_seed(3))
    for t in range(n):
        torch.save(network_maps[t, :, :, None].clone(), cues / ('%05d.pt' % t))
    plain = dataclasses.replace(GraphSettings.from_config(_config(GRAPH_SECTION), features_paths=(str(cues),)),
                                working_h=height, working_w=width, n_iterations=4, to_save_iterations=(2, 3))
    blended = dataclasses.replace(plain, cue_blend=0.4)
    maps = {}
    for name, settings in (('plain', plain), ('blended', blended)):
        run_graph_module(folder / 'frames', folder / 'flow', tmp_path / name, settings, torch.device('cpu'),
                         quiet=True)
        maps[name] = {k: torch.stack([torch.load(tmp_path / name / f'iter_{k}' / ('%05d.pt' % t))[..., 0]
                                      for t in range(n)]) for k in (2, 3)}
    assert torch.equal(maps['plain'][2], maps['blended'][2])
    expected = 0.6 * maps['plain'][3] + 0.4 * network_maps
    assert torch.allclose(maps['blended'][3], expected, atol=1e-6)
    assert not torch.allclose(maps['blended'][3], maps['plain'][3], atol=1e-2)


def test_flips_only_augmentation_mirrors_or_keeps_each_image():
    """augment_min_crop = 1: every view is the whole image, mirrored or not, labels with it; both
    happen in a batch of 16 (flip probability 0.5)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(16, 3, 12, 20, generator=generator)
    soft = torch.rand(16, 12, 20, generator=generator)
    hard = (soft >= 0.5).long()
    out_images, out_hard, out_soft, _ = augment_batch(images, hard, soft, None, torch.Generator().manual_seed(1),
                                                      min_crop=1.0)
    flipped = []
    for i in range(16):
        mirrored = not torch.allclose(out_images[i], images[i], atol=1e-6)
        source = images[i].flip(-1) if mirrored else images[i]
        assert torch.allclose(out_images[i], source, atol=1e-6)
        assert torch.allclose(out_soft[i], soft[i].flip(-1) if mirrored else soft[i], atol=1e-6)
        assert torch.equal(out_hard[i], hard[i].flip(-1) if mirrored else hard[i])
        flipped.append(mirrored)
    assert 0 < np.sum(flipped) < 16
    cropped = augment_batch(images, hard, soft, None, torch.Generator().manual_seed(1))[0]
    assert not torch.allclose(cropped, out_images, atol=1e-3)  # the default crops too


def test_augment_min_crop_is_checked():
    from network_module.settings import NetworkSettings
    base = ('[General]\nworking_h = 32\nworking_w = 64\n[Network Module]\nn_epochs = 1\nbatch_size = 2\n'
            'learning_rate = 1e-3\nto_save_epochs = 1\n')
    assert NetworkSettings.from_config(_config(base)).augment_min_crop == 0.7
    assert 'augment_min_crop' not in NetworkSettings.from_config(_config(base)).as_dict()
    assert NetworkSettings.from_config(_config(base + 'augment_min_crop = 1\n')).augment_min_crop == 1
    for bad in ('0', '1.2'):
        with pytest.raises(InputError, match='augment_min_crop'):
            NetworkSettings.from_config(_config(base + f'augment_min_crop = {bad}\n'))
