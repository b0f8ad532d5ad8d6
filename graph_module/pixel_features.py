"""Per-pixel maps that IKE+ adds to the node features (opt-in: [Graph Module] pixel_features).

The reference's node features are the flow steps along each chain, so the regression can only
tell the object from the background by how they move. When the camera moves, the background moves
coherently too, and often wins the principal eigenvector. These maps give the regression more to go
on:

- relative_motion: the flow minus the camera's motion (a homography fitted to the flow by RANSAC),
  as a magnitude, averaged over the forward and the backward flow of a frame;
- colour: the frame in CIE Lab (L / 100, a / 127, b / 127);
- position: the pixel's x and y, from 0 to 1.

Each channel is sampled along the chains like the network's cues (PIXEL_FEATURES says over how many
frames on each side) and is a normalisation group of its own.

The relative motion also serves as a prior (opt-in: [Graph Module] motion_prior): each power
iteration multiplies the propagated map by it, so that the principal cluster is one that moves
against the camera rather than the largest coherent region (a background that the camera pans over).
"""
from dataclasses import dataclass, replace
from typing import Callable

import cv2
import numpy as np
import torch

from graph_module.features import FeatureBlock, cue_block

GRID_STEP = 8  # the homography is fitted to the flow on a grid of one point every 8 pixels
RANSAC_PIXELS = 1.0  # RANSAC inlier distance at the paper's working width (416), scaled with it
REFERENCE_WIDTH = 416


def camera_flow(flow: np.ndarray) -> np.ndarray:
    """The flow that a homography fitted to `flow` (H x W x 2, RANSAC) explains: H x W x 2.

    Zero when no homography can be fitted (too few points, or a degenerate flow)."""
    height, width = flow.shape[:2]
    ys, xs = np.mgrid[GRID_STEP // 2:height:GRID_STEP, GRID_STEP // 2:width:GRID_STEP]
    source = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    target = source + flow[ys.ravel(), xs.ravel()]
    homography = None
    if len(source) >= 4:
        homography, _ = cv2.findHomography(source, target, cv2.RANSAC, RANSAC_PIXELS * width / REFERENCE_WIDTH)
    if homography is None:
        return np.zeros_like(flow)
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    points = np.stack([grid_x, grid_y, np.ones_like(grid_x)], axis=-1) @ homography.T
    moved = points[..., :2] / points[..., 2:3]
    return (moved - np.stack([grid_x, grid_y], axis=-1)).astype(np.float32)


def relative_motion(fwd_flows: torch.Tensor, bwd_flows: torch.Tensor, frames=None) -> torch.Tensor:
    """|flow - camera flow| per frame, the mean of its forward and backward flows (one of them at the
    ends of the video), divided by its 99th percentile over the video: n x 1 x H x W."""
    n_frames = fwd_flows.shape[0] + 1
    height, width = fwd_flows.shape[1:3]
    total = np.zeros((n_frames, height, width), np.float32)
    count = np.zeros((n_frames, 1, 1), np.float32)
    for flows, first in ((fwd_flows, 0), (bwd_flows, 1)):  # fwd[j] leaves frame j, bwd[j] frame j + 1
        for j, flow in enumerate(flows.cpu().numpy()):
            total[j + first] += np.linalg.norm(flow - camera_flow(flow), axis=-1)
            count[j + first] += 1
    motion = total / count
    scale = max(float(np.percentile(motion, 99)), 1e-6)
    return torch.from_numpy(np.minimum(motion / scale, 1))[:, None]


def colour(fwd_flows, bwd_flows, frames: torch.Tensor) -> torch.Tensor:
    """frames: n x H x W x 3 RGB in [0, 1] -> CIE Lab scaled to about [-1, 1]: n x 3 x H x W."""
    scale = np.array([100, 127, 127], np.float32)
    lab = [cv2.cvtColor(frame.astype(np.float32), cv2.COLOR_RGB2LAB) / scale for frame in frames.cpu().numpy()]
    return torch.from_numpy(np.stack(lab)).permute(0, 3, 1, 2).contiguous()


def position(fwd_flows, bwd_flows, frames=None) -> torch.Tensor:
    """x and y of every pixel, 0 to 1: n x 2 x H x W."""
    n_frames, height, width = fwd_flows.shape[0] + 1, fwd_flows.shape[1], fwd_flows.shape[2]
    y, x = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing='ij')
    return torch.stack((x, y))[None].expand(n_frames, -1, -1, -1).contiguous()


@dataclass(frozen=True)
class PixelFeature:
    """A per-pixel map: `compute(fwd_flows, bwd_flows, frames)` -> n x C x H x W, sampled along the
    chains over `half_chain` frames on each side of the pivot."""
    compute: Callable
    half_chain: int


PIXEL_FEATURES = {
    'relative_motion': PixelFeature(relative_motion, half_chain=1),
    'colour': PixelFeature(colour, half_chain=0),
    'position': PixelFeature(position, half_chain=0),
}


def _flow_tensor(flows) -> torch.Tensor:
    """An (n-1) x H x W x 2 tensor from one direction's chains.Flows (or such a tensor)."""
    if isinstance(flows, torch.Tensor):
        return flows
    return torch.stack((flows.u, flows.v), dim=-1).view(flows.u.shape[0], flows.height, flows.width, 2)


def compute_pixel_maps(names, fwd_flows, bwd_flows, frames) -> dict:
    """{name: n x C x H x W} for each named map, on the flows' device.

    Flows: chains.Flows or (n-1) x H x W x 2 tensors at the working size; frames: n x H x W x 3 RGB
    in [0, 1] (only colour reads them)."""
    fwd_flows, bwd_flows = _flow_tensor(fwd_flows), _flow_tensor(bwd_flows)
    return {name: PIXEL_FEATURES[name].compute(fwd_flows, bwd_flows, frames).to(fwd_flows.device)
            for name in names}


def pixel_feature_blocks(names, maps: dict) -> list:
    """One FeatureBlock per channel of each named map (its own normalisation group), in order."""
    blocks = []
    for name in names:
        for channel in range(maps[name].shape[1]):
            block = cue_block(maps[name][:, channel:channel + 1].contiguous(), PIXEL_FEATURES[name].half_chain)
            label = f'{name} {channel}'
            blocks.append(replace(block, name=label, group=label))
    return blocks


def motion_prior(motion: torch.Tensor, floor: float) -> torch.Tensor:
    """The weight of every node in the power iteration (IKE+ motion_prior): relative motion
    (n x 1 x H x W, in [0, 1]) plus `floor`, so that still regions keep some weight: n x N."""
    return motion.reshape(motion.shape[0], -1) + floor
