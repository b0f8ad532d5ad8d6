"""Helpers shared by the graph-module tests: where the shared fixtures live, random flows with the
awkward cases of the reference (exact integers, ties, zero regions, chains leaving the image), and
writing a small video (frames + .flo files + feature folders) to disk."""
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ike_utils.flow_io import flow_file_name, write_flo

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get('IKE_SHARED', REPO.parent / 'shared'))
FIXTURES = SHARED / 'fixtures'


@pytest.fixture
def single_thread():
    """One intra-op thread: these tensors are tiny, and on a shared 2-core machine PyTorch's spinning
    worker threads make small ops up to 100x slower under load."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def shared_missing(path: Path, what: str):
    """Skip (outside CI) or fail (under CI=true, where ../shared must be present) when `path` is absent."""
    if path.exists():
        return
    message = f'{what} not found at {path} (expected at <repo root>/../shared; set IKE_SHARED to override)'
    if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
        pytest.fail(message)
    pytest.skip(message)


def random_flows(seed: int, n_frames: int, height: int, width: int, scale: float = 2.5,
                 quantum: float = None, zero_fraction: float = 0.25, drift: float = 1.5) -> torch.Tensor:
    """(n-1) x H x W x 2 float32 flows: noise of amplitude `scale` plus a per-flow drift in a random
    direction (so chains leave the image on every side over the video), a zero rectangle in a
    `zero_fraction` of the flows, and values rounded to multiples of `quantum` when given (so chain
    positions hit exact integers and rounding ties)."""
    generator = torch.Generator().manual_seed(seed)
    flows = (torch.rand(n_frames - 1, height, width, 2, generator=generator) * 2 - 1) * scale
    angles = torch.rand(n_frames - 1, generator=generator) * 2 * np.pi
    flows[..., 0] += (drift * torch.cos(angles))[:, None, None]
    flows[..., 1] += (drift * torch.sin(angles))[:, None, None]
    for index in range(n_frames - 1):
        if torch.rand(1, generator=generator).item() < zero_fraction:
            top = int(torch.randint(0, height // 2, (1,), generator=generator))
            left = int(torch.randint(0, width // 2, (1,), generator=generator))
            flows[index, top:top + height // 2, left:left + width // 2] = 0
    if quantum:
        flows = torch.round(flows / quantum) * quantum
    return flows.float().contiguous()


def random_cues(seed: int, n_frames: int, channels: int, height: int, width: int) -> torch.Tensor:
    """n x C x H x W cues in [0, 1] with some spatial structure."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n_frames, channels, max(2, height // 4), max(2, width // 4), generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=(height, width), mode='bilinear', align_corners=False)
    return (0.8 * smooth + 0.2 * torch.rand(n_frames, channels, height, width, generator=generator)).float()


def write_video(folder: Path, n_frames: int, frame_hw, fwd_flows, bwd_flows, seed: int = 0):
    """frames/%05d.png (random texture, frame_hw = (H0, W0)) and flow/{fwd_of,bwd_of}/*.flo from
    (n-1) x h x w x 2 arrays. Returns (frames_path, of_path)."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    frames = folder / 'frames'
    frames.mkdir(parents=True, exist_ok=True)
    for index in range(n_frames):
        image = rng.integers(0, 256, size=(*frame_hw, 3), dtype=np.uint8)
        assert cv2.imwrite(str(frames / ('%05d.png' % index)), image)
    for name, flows in (('fwd_of', fwd_flows), ('bwd_of', bwd_flows)):
        for index in range(n_frames - 1):
            write_flo(folder / 'flow' / name / flow_file_name(index), np.asarray(flows[index], np.float32))
    return frames, folder / 'flow'


def write_feature_folder(folder: Path, maps) -> Path:
    """%05d.pt files, one H x W x C float32 tensor per frame, from n x C x H x W maps."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index, cue in enumerate(maps):
        torch.save(cue.permute(1, 2, 0).contiguous().clone(), folder / ('%05d.pt' % index))
    return folder


def write_config(path: Path, working_hw, **graph_values) -> Path:
    """A config file: the paper's [Graph Module] defaults, changed by `graph_values`
    (key=value; a value of None drops the key; ike_features_paths may be a list of folders)."""
    values = dict(seed_type=0, seed_type_sigma_percent=0.5, sigma=4, n_iterations=20,
                  to_save_iterations='-1, 19', dir_features_half_chain_size=5,
                  features_half_chain_size=1, **{'lambda': 100}, ike_features_paths='')
    values.update(graph_values)
    lines = ['[General]', f'working_h = {working_hw[0]}', f'working_w = {working_hw[1]}', '',
             '[Graph Module]']
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = '\n    '.join(str(v) for v in value)
        lines.append(f'{key} = {value}')
    path = Path(path)
    path.write_text('\n'.join(lines) + '\n')
    return path
