"""Optical-flow chains: where each pixel of a pivot frame lands in the frames around it.

A chain starts at a pixel of pivot frame p and follows the flow one frame at a time, up to 15
frames forward and 15 backward. At every step the current position is rounded to the nearest pixel
(ties to even, like torch.round), clamped into the image, and the flow there is added: nearest-
neighbour sampling, as the reference does. All pivots walk together, one step at a time.
"""
from dataclasses import dataclass

import torch


@dataclass
class ChainStep:
    """The chains of every pivot that reach `offset` frames away (offset > 0 forward, < 0 backward).

    Pivots `first_pivot .. first_pivot + len(x) - 1` land in frames `pivot + offset`; x, y are their
    unclamped float positions there and u, v the flow step just taken (the "direction"), all n_s x N.
    """
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
    """Yield a ChainStep per offset 1..max_offset (forward) or -1..-max_offset (backward).

    `flows` is (n-1) x H x W x 2: for forward, flows[j] goes from frame j to j+1; for backward,
    flows[j] goes from frame j+1 to j (the bwd_of files).
    """
    n_flows, height, width, _ = flows.shape
    n_frames = n_flows + 1
    n_pixels = height * width
    flow_u = flows[..., 0].reshape(n_flows, n_pixels)
    flow_v = flows[..., 1].reshape(n_flows, n_pixels)
    grid_y, grid_x = torch.meshgrid(torch.arange(height, dtype=torch.float32, device=flows.device),
                                    torch.arange(width, dtype=torch.float32, device=flows.device),
                                    indexing='ij')
    grid_x, grid_y = grid_x.reshape(1, n_pixels), grid_y.reshape(1, n_pixels)
    # displacement accumulated so far, one row per pivot (pivot p is row p)
    disp_x = torch.zeros(n_frames, n_pixels, device=flows.device)
    disp_y = torch.zeros(n_frames, n_pixels, device=flows.device)
    for step in range(1, min(max_offset, n_frames - 1) + 1):
        n_walking = n_frames - step
        if forward:  # pivots 0 .. n-1-step read flows[pivot + step - 1]
            rows, flow_rows = slice(0, n_walking), slice(step - 1, n_flows)
        else:  # pivots step .. n-1 read flows[pivot - step] (frame pivot-step+1 -> pivot-step)
            rows, flow_rows = slice(step, n_frames), slice(0, n_walking)
        dx, dy = disp_x[rows], disp_y[rows]
        col = torch.round(dx + grid_x).clamp_(0, width - 1).long()
        row = torch.round(dy + grid_y).clamp_(0, height - 1).long()
        nearest = row.mul_(width).add_(col)
        u = torch.gather(flow_u[flow_rows], 1, nearest)
        v = torch.gather(flow_v[flow_rows], 1, nearest)
        dx.add_(u)
        dy.add_(v)
        yield ChainStep(offset=step if forward else -step, first_pivot=rows.start,
                        x=grid_x + dx, y=grid_y + dy, u=u, v=v)
