"""Optical-flow chains: where each pixel of a pivot frame lands in the frames around it.

A chain starts at a pixel of pivot frame p and follows the flow one frame at a time, up to 15
frames forward and 15 backward. At every step the current position is rounded to the nearest pixel
(ties to even, like torch.round), clamped into the image, and the flow there is added: nearest-
neighbour sampling, as the reference does. All pivots walk together, one step at a time, in
chunks of pivots so that the temporaries stay small.
"""
from dataclasses import dataclass

import torch

CHUNK_ELEMENTS = 1 << 18  # chain positions handled at once: keeps the temporaries to a few MB


@dataclass
class ChainStep:
    """Chains of pivots first_pivot .. first_pivot + len(x) - 1 that reach frame pivot + offset
    (offset > 0 forward, < 0 backward): x, y their unclamped float positions there and u, v the flow
    step just taken (the "direction"), each rows x N."""
    offset: int
    first_pivot: int
    x: torch.Tensor
    y: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor

    @property
    def first_destination(self) -> int:
        return self.first_pivot + self.offset


def walk_chains(flows: torch.Tensor, max_offset: int, forward: bool):
    """Yield ChainSteps for offsets 1..max_offset (forward) or -1..-max_offset (backward).

    `flows` is (n-1) x H x W x 2: for forward, flows[j] goes from frame j to j+1; for backward,
    flows[j] goes from frame j+1 to j (the bwd_of files). Steps come in order of offset, each split
    into chunks of consecutive pivots.
    """
    n_flows, height, width, _ = flows.shape
    n_frames = n_flows + 1
    n_pixels = height * width
    device = flows.device
    flow_u = flows[..., 0].reshape(-1)  # flat, so that int32 indices can address it
    flow_v = flows[..., 1].reshape(-1)
    grid_y, grid_x = torch.meshgrid(torch.arange(height, dtype=torch.float32, device=device),
                                    torch.arange(width, dtype=torch.float32, device=device), indexing='ij')
    grid_x, grid_y = grid_x.reshape(1, n_pixels), grid_y.reshape(1, n_pixels)
    # displacement accumulated so far, one row per pivot; the reference adds the flow steps to it in
    # float32 and only then adds the grid, an order that changes the rounding, so it is kept
    disp_x = torch.zeros(n_frames, n_pixels, device=device)
    disp_y = torch.zeros(n_frames, n_pixels, device=device)
    chunk = max(1, CHUNK_ELEMENTS // n_pixels)
    for step in range(1, min(max_offset, n_frames - 1) + 1):
        n_walking = n_frames - step
        # forward: pivots 0..n-1-step read flows[pivot + step - 1]
        # backward: pivots step..n-1 read flows[pivot - step] (frame pivot-step+1 -> pivot-step)
        first_row, first_flow = (0, step - 1) if forward else (step, 0)
        for start in range(0, n_walking, chunk):
            rows = slice(first_row + start, first_row + min(start + chunk, n_walking))
            dx, dy = disp_x[rows], disp_y[rows]
            n_rows = dx.shape[0]
            col = torch.round(dx + grid_x).clamp_(0, width - 1).int()
            row = torch.round(dy + grid_y).clamp_(0, height - 1).int()
            flow_base = (torch.arange(n_rows, dtype=torch.int32, device=device) + first_flow + start)
            nearest = row.mul_(width).add_(col).add_(flow_base[:, None] * n_pixels)
            del col
            u = flow_u.index_select(0, nearest.view(-1)).view(n_rows, n_pixels)
            v = flow_v.index_select(0, nearest.view(-1)).view(n_rows, n_pixels)
            dx.add_(u)
            dy.add_(v)
            yield ChainStep(offset=step if forward else -step, first_pivot=rows.start,
                            x=grid_x + dx, y=grid_y + dy, u=u, v=v)
