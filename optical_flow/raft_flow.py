"""RAFT flow for consecutive frame pairs, both directions, with torchvision's RAFT modules.

The inputs are prepared as the reference did (princeton-vl/RAFT `InputPadder`, as IKE's
extract_optical_flow.py used it): RGB in 0..255, replicate-padded to a multiple of 8 with the padding
split evenly on both sides (the extra pixel, if any, at the right/bottom), scaled to [-1, 1], and
`iters` refinement steps. The flow is cropped back to the frame size (unless `keep_padding`, the
reference's layout: flows at the padded size, e.g. 856x480 for 854x480 frames).

Work is shared instead of repeated: every frame is padded and encoded (feature and context
encoders) once, although it takes part in up to four flows (as first and second image of two
pairs); and the convex upsampling runs only after the last refinement step, the only one kept.
Both encoders normalise each image on its own (instance norm; batch norm in eval mode), so encoding
frames separately gives the features of the reference's paired encoding.
"""
import contextlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.optical_flow._utils import make_coords_grid, upsample_flow

from ike_utils.errors import InputError

# torchvision's correlation pyramid needs feature maps of at least 16 x 16 (4 levels), i.e. 128 px
MIN_PADDED_SIDE = 128


def padding_for(height: int, width: int):
    """(left, right, top, bottom) replicate padding to the next multiple of 8, split evenly."""
    pad_h = (-height) % 8
    pad_w = (-width) % 8
    return pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2


@contextlib.contextmanager
def full_float32(device: torch.device):
    """On CUDA, switch TF32 off for convolutions and matmuls meanwhile (PyTorch lets cuDNN use it
    by default), so the flows are float32 computations like the reference's."""
    if device.type != 'cuda':
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@dataclass
class EncodedFrame:
    """What RAFT needs of one frame, computed once: correlation features and the context split
    into the initial hidden state (tanh) and the context input (relu)."""
    features: torch.Tensor
    hidden: torch.Tensor
    context: torch.Tensor


class RaftFlow:
    """Forward and backward RAFT flows of consecutive frames.

    `prepare(frames_bgr)` pads and encodes a list of frames (one batch); `flow_pairs(encoded)` turns
    k+1 consecutive encoded frames into k (forward, backward) flows, all 2k flows in one batch.
    """

    def __init__(self, model, iters: int, frame_size, device: torch.device, keep_padding: bool = False):
        self.model = model
        self.iters = iters
        self.device = torch.device(device)
        self.height, self.width = frame_size
        self.padding = padding_for(self.height, self.width)
        self.keep_padding = keep_padding
        padded_h = self.height + self.padding[2] + self.padding[3]
        padded_w = self.width + self.padding[0] + self.padding[1]
        self.output_size = (padded_h, padded_w) if keep_padding else (self.height, self.width)
        if min(padded_h, padded_w) < MIN_PADDED_SIDE:
            raise InputError(f'frames of {self.width}x{self.height} are too small for RAFT (at least '
                             f'{MIN_PADDED_SIDE} px per side after padding to a multiple of 8); '
                             f'use --method dis or larger frames')

    @torch.no_grad()
    def prepare(self, frames_bgr):
        """Pad, normalise and encode frames (H x W x 3 uint8 BGR arrays) as one batch."""
        rgb = np.stack([frame[:, :, ::-1] for frame in frames_bgr])
        images = torch.from_numpy(rgb).to(self.device).permute(0, 3, 1, 2).float()
        images = F.pad(images, list(self.padding), mode='replicate')
        images = 2 * (images / 255.0) - 1.0  # the original RAFT's normalisation, same arithmetic
        with full_float32(self.device):
            features = self.model.feature_encoder(images)
            context_out = self.model.context_encoder(images)
        hidden_size = self.model.update_block.hidden_state_size
        hidden, context = torch.split(context_out, [hidden_size, context_out.shape[1] - hidden_size], dim=1)
        hidden, context = torch.tanh(hidden), F.relu(context)
        return [EncodedFrame(features[i:i + 1], hidden[i:i + 1], context[i:i + 1])
                for i in range(len(frames_bgr))]

    @torch.no_grad()
    def flow_pairs(self, encoded):
        """k+1 encoded consecutive frames -> k (forward, backward) flows, H x W x 2 float32 arrays."""
        return self.flow_pairs_at(encoded, [self.iters])[self.iters]

    @torch.no_grad()
    def flow_pairs_at(self, encoded, iteration_counts):
        """As `flow_pairs`, for several iteration counts from one refinement run: {count: pairs}."""
        first, second = encoded[:-1], encoded[1:]
        sources = first + second  # forward flows first, then backward ones, in one batch
        targets = second + first
        wanted = set(iteration_counts)
        results = {}
        with full_float32(self.device):
            for iteration, flow, hidden in self._refine(torch.cat([e.features for e in sources]),
                                                        torch.cat([e.features for e in targets]),
                                                        torch.cat([e.hidden for e in sources]),
                                                        torch.cat([e.context for e in sources]),
                                                        max(wanted)):
                if iteration in wanted:
                    results[iteration] = self._to_pairs(self._upsample(flow, hidden), len(first))
        return results

    def _refine(self, features1, features2, hidden, context, iters):
        """RAFT's iterative refinement (as torchvision's RAFT.forward): yields (iteration, flow at 1/8
        resolution, hidden state) after every step; upsampling is left to the caller."""
        model = self.model
        model.corr_block.build_pyramid(features1, features2)
        batch, _, h, w = features1.shape
        coords0 = make_coords_grid(batch, h, w).to(features1.device)
        coords1 = coords0.clone()
        try:
            for iteration in range(1, iters + 1):
                corr_features = model.corr_block.index_pyramid(centroids_coords=coords1)
                hidden, delta_flow = model.update_block(hidden, context, corr_features, coords1 - coords0)
                coords1 = coords1 + delta_flow
                yield iteration, coords1 - coords0, hidden
        finally:
            model.corr_block.corr_pyramid = []  # free the correlation volumes

    def _upsample(self, flow, hidden):
        """Full-resolution flow: convex upsampling with the predicted mask (large), bilinear (small)."""
        up_mask = None if self.model.mask_predictor is None else self.model.mask_predictor(hidden)
        return upsample_flow(flow=flow, up_mask=up_mask)

    def _to_pairs(self, flows, k):
        """Crop the padding away; the first k flows are forward, the next k backward."""
        if not self.keep_padding:
            left, _, top, _ = self.padding
            flows = flows[:, :, top:top + self.height, left:left + self.width]
        flows = flows.permute(0, 2, 3, 1).cpu().numpy()
        return [(flows[i], flows[k + i]) for i in range(k)]
