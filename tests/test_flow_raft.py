"""RAFT through torchvision with the original checkpoints reproduces the original RAFT code's flows."""
import shutil

import cv2
import numpy as np
import pytest
import torch
from torchvision.models.optical_flow import raft_small

from conftest import FIXTURES, shared_missing
from ike_utils.errors import InputError
from ike_utils.flow_io import read_flo
from optical_flow.extract import extract_flows
from optical_flow.raft_flow import RaftFlow, padding_for
from RAFT.checkpoint import load_raft, to_torchvision_names

RAFT_FIXTURES = FIXTURES / 'raft_reference'
TOLERANCE = 1e-3  # max abs difference, pixels; 0 or a few 1e-5 in practice
CROP = 3  # the reference padded 234x130 to 240x136, 3 px on every side


def _require_fixtures():
    shared_missing(RAFT_FIXTURES / 'frame1.png', 'RAFT reference fixtures')


def _reference(variant, direction, iters):
    flow = read_flo(RAFT_FIXTURES / f'ref_{variant}_{direction}_iters{iters}_padded.flo')
    return flow[CROP:-CROP, CROP:-CROP]


def _frames():
    return [cv2.imread(str(RAFT_FIXTURES / name)) for name in ('frame1.png', 'frame2.png')]


def test_padding_is_split_evenly_like_the_reference():
    assert padding_for(130, 234) == (3, 3, 3, 3)
    assert padding_for(480, 854) == (1, 1, 0, 0)
    assert padding_for(131, 237) == (1, 2, 2, 3)  # odd padding: the extra pixel right / bottom
    assert padding_for(128, 256) == (0, 0, 0, 0)


@pytest.mark.parametrize('variant', ['small', 'large'])
def test_checkpoint_renaming_fits_torchvision_exactly(variant):
    _require_fixtures()
    original = torch.load(RAFT_FIXTURES / f'raft-{variant}-random.pth', map_location='cpu', weights_only=True)
    renamed = to_torchvision_names(original)
    model, found = load_raft(RAFT_FIXTURES / f'raft-{variant}-random.pth')
    assert found == variant
    assert set(renamed) == set(model.state_dict())
    # every renamed tensor is loaded unchanged (float16 widened exactly)
    for key, (original_key, tensor) in renamed.items():
        assert torch.equal(model.state_dict()[key], tensor.float()), (key, original_key)
    # only the duplicate norms of strided blocks were dropped, and each equals its downsample.1
    dropped = set(original) - {original_key for original_key, _ in renamed.values()}
    for key in dropped:
        assert key.split('.')[-2].startswith('norm'), key
        twin = key.replace(key.split('.')[-2], 'downsample.1')
        assert torch.equal(original[key], original[twin])
    assert len(dropped) == (10 if variant == 'large' else 0)  # 2 strided blocks x 5 tensors of cnet's batch norm


def test_torchvision_format_state_dict_loads(tmp_path):
    model = raft_small()
    path = tmp_path / 'tv_small.pth'
    torch.save(model.state_dict(), path)
    loaded, variant = load_raft(path)
    assert variant == 'small'
    for key, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key


@pytest.mark.parametrize('variant', ['small', 'large'])
def test_flows_match_original_raft(variant):
    """Both directions, 12 and 20 iterations, from one refinement run per checkpoint."""
    _require_fixtures()
    model, _ = load_raft(RAFT_FIXTURES / f'raft-{variant}-random.pth')
    frames = _frames()
    estimator = RaftFlow(model, 20, frames[0].shape[:2], torch.device('cpu'))
    results = estimator.flow_pairs_at(estimator.prepare(frames), [12, 20])
    for iters in (12, 20):
        (forward, backward), = results[iters]
        assert forward.shape == (130, 234, 2)
        for direction, flow in (('fwd', forward), ('bwd', backward)):
            reference = _reference(variant, direction, iters)
            difference = np.abs(flow - reference).max()
            assert difference < TOLERANCE, (variant, direction, iters, difference)
            assert np.abs(reference).max() > 1  # the comparison is not between two near-zero fields
    # the iterations matter: 12 and 20 differ by far more than the tolerance
    assert np.abs(results[12][0][0] - results[20][0][0]).max() > 100 * TOLERANCE


def _video_of_fixture_frames(folder):
    """frame1, frame2, frame1: pair 0 is the reference pair, pair 1 its reverse."""
    folder.mkdir()
    for index, name in enumerate(['frame1.png', 'frame2.png', 'frame1.png']):
        shutil.copy(RAFT_FIXTURES / name, folder / f'{index:05d}.png')
    return folder


@pytest.mark.parametrize('batch_pairs', [1, 2])
def test_extract_flows_with_raft_writes_cropped_reference_flows(tmp_path, batch_pairs):
    """The whole stage, with batching of pairs (the CUDA path) and carrying a frame between batches."""
    _require_fixtures()
    frames = _video_of_fixture_frames(tmp_path / 'frames')
    summary = extract_flows(frames, tmp_path / 'out', method='raft', iters=12, device='cpu', quiet=True,
                            checkpoint=RAFT_FIXTURES / 'raft-small-random.pth', batch_pairs=batch_pairs)
    assert (summary.pairs, summary.computed, summary.skipped) == (2, 2, 0)
    expected = {('fwd_of', 0): 'fwd', ('bwd_of', 0): 'bwd', ('fwd_of', 1): 'bwd', ('bwd_of', 1): 'fwd'}
    for (folder, pair), direction in expected.items():
        flow = read_flo(tmp_path / 'out' / folder / f'{pair:05d}_{pair + 1:05d}.flo')
        assert flow.shape == (130, 234, 2)  # cropped back to the frame size
        assert np.abs(flow - _reference('small', direction, 12)).max() < TOLERANCE


def test_frames_too_small_for_raft_is_an_input_error(tmp_path):
    _require_fixtures()
    folder = tmp_path / 'frames'
    folder.mkdir()
    for index in range(2):
        cv2.imwrite(str(folder / f'{index:05d}.png'), np.zeros((72, 128, 3), np.uint8))
    with pytest.raises(InputError, match='too small for RAFT'):
        extract_flows(folder, tmp_path / 'out', method='raft', checkpoint=RAFT_FIXTURES / 'raft-small-random.pth',
                      device='cpu', quiet=True)


def _corrupted_checkpoint(tmp_path, change):
    state = torch.load(RAFT_FIXTURES / 'raft-small-random.pth', map_location='cpu', weights_only=True)
    change(state)
    path = tmp_path / 'bad.pth'
    torch.save(state, path)
    return path


def test_checkpoint_with_unknown_key_names_it(tmp_path):
    _require_fixtures()
    path = _corrupted_checkpoint(tmp_path, lambda state: state.__setitem__('module.refiner.conv.weight', torch.ones(1)))
    with pytest.raises(InputError, match=r"key 'module.refiner.conv.weight' fits neither RAFT-large nor RAFT-small"):
        load_raft(path)


def test_checkpoint_missing_a_key_or_wrong_shape(tmp_path):
    _require_fixtures()
    path = _corrupted_checkpoint(tmp_path, lambda state: state.pop('module.update_block.flow_head.conv2.bias'))
    with pytest.raises(InputError, match=r"lacks 'update_block.flow_head.conv2.bias' of RAFT-small"):
        load_raft(path)
    path = _corrupted_checkpoint(
        tmp_path, lambda state: state.__setitem__('module.fnet.conv2.bias', torch.zeros(7)))
    with pytest.raises(InputError, match=r"'module.fnet.conv2.bias' has shape \(7,\)"):
        load_raft(path)


def test_missing_and_unreadable_checkpoints(tmp_path):
    with pytest.raises(InputError, match=r'not found; .*princeton-vl/RAFT README.*--method dis'):
        load_raft(tmp_path / 'raft-things.pth')
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'this is not a checkpoint' * 10)
    with pytest.raises(InputError, match='cannot be read'):
        load_raft(garbage)
    not_a_dict = tmp_path / 'list.pth'
    torch.save([torch.ones(2)], not_a_dict)
    with pytest.raises(InputError, match='no state dict'):
        load_raft(not_a_dict)


def test_tf32_is_off_during_raft_on_cuda_and_restored_after():
    from optical_flow.raft_flow import full_float32
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = True
    try:
        with full_float32(torch.device('cuda')):
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32
        with full_float32(torch.device('cpu')):
            assert torch.backends.cudnn.allow_tf32  # nothing to change on the CPU
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message when CUDA is absent')
def test_asking_for_cuda_without_it_is_an_input_error(tmp_path):
    _require_fixtures()
    frames = _video_of_fixture_frames(tmp_path / 'frames')
    with pytest.raises(InputError, match='no CUDA device'):
        extract_flows(frames, tmp_path / 'out', method='raft', device='cuda',
                      checkpoint=RAFT_FIXTURES / 'raft-small-random.pth', quiet=True)


def test_keep_padding_writes_the_reference_files_uncropped(tmp_path):
    _require_fixtures()
    frames = _video_of_fixture_frames(tmp_path / 'frames')
    extract_flows(frames, tmp_path / 'out', method='raft', iters=12, device='cpu', quiet=True, keep_padding=True,
                  checkpoint=RAFT_FIXTURES / 'raft-small-random.pth')
    for folder, direction in (('fwd_of', 'fwd'), ('bwd_of', 'bwd')):
        ours = read_flo(tmp_path / 'out' / folder / '00000_00001.flo')
        reference = read_flo(RAFT_FIXTURES / f'ref_small_{direction}_iters12_padded.flo')
        assert ours.shape == reference.shape == (136, 240, 2)
        assert np.abs(ours - reference).max() < TOLERANCE
    again = extract_flows(frames, tmp_path / 'out', method='raft', iters=12, device='cpu', quiet=True,
                          keep_padding=True, checkpoint=RAFT_FIXTURES / 'raft-small-random.pth')
    assert again.skipped == 2  # padded-size files count as finished when padding is kept
    with pytest.raises(InputError, match='--keep_padding applies to --method raft only'):
        extract_flows(frames, tmp_path / 'dis', method='dis', keep_padding=True, quiet=True)
