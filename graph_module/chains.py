"""Optical-flow chains: where each pixel of a pivot frame lands in the frames around it.

A chain starts at a pixel of pivot frame p and follows the flow one frame at a time, up to 15
frames forward and 15 backward. At every step the current position is rounded to the nearest pixel
(ties to even, like torch.round), clamped into the image, and the flow there is added: nearest-
neighbour sampling, as the reference does. The pivots are walked in blocks of a few consecutive
frames, all pixels of a block together, one step at a time, so that the temporaries stay small.
"""
from dataclasses import dataclass

import torch

CHUNK_ELEMENTS = 1 << 18  # chain positions handled at once: keeps the temporaries to a few MB


@dataclass
class ChainStep:
    """Chains of pivots first_pivot .. first_pivot + len(x) - 1 that reach frame pivot + offset
    (offset > 0 forward, < 0 backward): x, y their unclamped float positions there (None when not
    asked for) and u, v the flow step just taken (the "direction"), each rows x N."""
    offset: int
    first_pivot: int
    x: torch.Tensor
    y: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor

    @property
    def first_destination(self) -> int:
        return self.first_pivot + self.offset


@dataclass
class ChainView:
    """The chains of consecutive pivots at one frame each: `frames` (rows, int64) the frame reached,
    x, y the positions there (None if not walked) and u, v the flow step that reached it, each
    rows x N."""
    frames: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor


def pivot_blocks(n_frames: int, n_pixels: int):
    """The video's pivot frames cut into consecutive blocks (ranges) of about CHUNK_ELEMENTS pixels."""
    rows = max(1, CHUNK_ELEMENTS // n_pixels)
    return [range(start, min(start + rows, n_frames)) for start in range(0, n_frames, rows)]


def pixel_grid(height: int, width: int, device):
    """(x, y) of every pixel, each 1 x N float32."""
    grid_y, grid_x = torch.meshgrid(torch.arange(height, dtype=torch.float32, device=device),
                                    torch.arange(width, dtype=torch.float32, device=device), indexing='ij')
    return grid_x.reshape(1, -1), grid_y.reshape(1, -1)


@dataclass
class Flows:
    """One direction's flows at working size as flat components: u, v each (n-1) x N float32."""
    u: torch.Tensor
    v: torch.Tensor
    height: int
    width: int

    @classmethod
    def split(cls, flows: torch.Tensor) -> 'Flows':
        """From an (n-1) x H x W x 2 tensor."""
        n_flows, height, width, _ = flows.shape
        return cls(flows[..., 0].reshape(n_flows, -1).contiguous(), flows[..., 1].reshape(n_flows, -1).contiguous(),
                   height, width)


def walk_chains(flows, max_offset: int, forward: bool, pivots: range = None, positions: bool = True):
    """Yield ChainSteps for offsets 1..max_offset (forward) or -1..-max_offset (backward).

    `flows` (Flows, or an (n-1) x H x W x 2 tensor): for forward, flows[j] goes from frame j to j+1;
    for backward, flows[j] goes from frame j+1 to j (the bwd_of files). `pivots` (a range) walks
    only those pivots; by default every block of pivot_blocks is walked in turn. Within a block
    steps come in order of offset, each with the block's pivots that reach that far. Without
    `positions`, the steps' x and y are None (only the directions are wanted: less work).
    """
    if isinstance(flows, torch.Tensor):
        flows = Flows.split(flows)
    n_frames = flows.u.shape[0] + 1
    grid = pixel_grid(flows.height, flows.width, flows.u.device)
    blocks = [pivots] if pivots is not None else pivot_blocks(n_frames, flows.u.shape[1])
    for block in blocks:
        yield from _walk_block(flows, max_offset, forward, block, grid, positions)


def _walk_block(flows: Flows, max_offset, forward, pivots, grid, positions):
    height, width = flows.height, flows.width
    n_frames, n_pixels, device = flows.u.shape[0] + 1, height * width, flows.u.device
    flow_u, flow_v = flows.u.view(-1), flows.v.view(-1)  # flat, so that int32 indices can address them
    grid_x, grid_y = grid
    # displacement accumulated so far, one row per pivot; the reference adds the flow steps to it in
    # float32 and only then adds the grid, an order that changes the rounding, so it is kept
    disp_x = torch.zeros(len(pivots), n_pixels, device=device)
    disp_y = torch.zeros(len(pivots), n_pixels, device=device)
    # work buffers, made once per block: each step's temporaries would otherwise be new allocations
    rounded = torch.empty(len(pivots), n_pixels, device=device)
    col, nearest = (torch.empty(len(pivots), n_pixels, dtype=torch.int32, device=device) for _ in range(2))
    for step in range(1, min(max_offset, n_frames - 1) + 1):
        # forward: pivots p <= n-1-step read flows[p + step - 1]
        # backward: pivots p >= step read flows[p - step] (frame p-step+1 -> p-step)
        first = pivots.start if forward else max(pivots.start, step)
        stop = min(pivots.stop, n_frames - step) if forward else pivots.stop
        if first >= stop:
            return
        rows = slice(first - pivots.start, stop - pivots.start)
        first_flow = first + step - 1 if forward else first - step
        dx, dy = disp_x[rows], disp_y[rows]
        n_rows = dx.shape[0]
        # the nearest pixel: round (ties to even), clamp into the image, flat index into the flows
        work, column, index = rounded[:n_rows], col[:n_rows], nearest[:n_rows]
        column.copy_(torch.add(dx, grid_x, out=work).round_().clamp_(0, width - 1))
        index.copy_(torch.add(dy, grid_y, out=work).round_().clamp_(0, height - 1))
        flow_base = (torch.arange(n_rows, dtype=torch.int32, device=device) + first_flow) * n_pixels
        index.mul_(width).add_(column).add_(flow_base[:, None])
        u = flow_u.index_select(0, index.view(-1)).view(n_rows, n_pixels)
        v = flow_v.index_select(0, index.view(-1)).view(n_rows, n_pixels)
        dx.add_(u)
        dy.add_(v)
        x, y = (grid_x + dx, grid_y + dy) if positions else (None, None)
        yield ChainStep(offset=step if forward else -step, first_pivot=first, x=x, y=y, u=u, v=v)


class PivotChains:
    """The chains of one block of consecutive pivots within `reach` frames on each side, kept while
    the block is walked, for the node features to read.

    `at(offset)` gives every pivot's chain at frame pivot + offset, where frames beyond the video are
    clamped to its first or last frame, as in the reference (the pivot itself: its own pixels and
    zero directions)."""

    def __init__(self, pivots: range, n_frames: int, height: int, width: int, reach: int, device):
        self.pivots, self.n_frames, self.reach = pivots, n_frames, reach
        self.height, self.width = height, width
        self.grid = pixel_grid(height, width, device)
        self.device = device
        self._steps = {}  # offset -> ChainStep

    def keep(self, step: ChainStep):
        """Remember `step` if the features read that far."""
        if abs(step.offset) <= self.reach:
            self._steps[step.offset] = step

    def at(self, offset: int) -> ChainView:
        """Rows: the block's pivots; each at frame clamp(pivot + offset, 0, n - 1)."""
        pieces = []  # [clamped offset, first pivot, stop] for runs of pivots sharing one
        for pivot in self.pivots:
            actual = min(max(pivot + offset, 0), self.n_frames - 1) - pivot
            if pieces and pieces[-1][0] == actual:
                pieces[-1][2] = pivot + 1
            else:
                pieces.append([actual, pivot, pivot + 1])
        views = [self._view(*piece) for piece in pieces]
        if len(views) == 1:
            return views[0]
        return ChainView(*(None if any(part is None for part in parts) else torch.cat(parts) for parts in zip(*(
            (view.frames, view.x, view.y, view.u, view.v) for view in views))))

    def _view(self, offset, first, stop) -> ChainView:
        frames = torch.arange(first + offset, stop + offset, device=self.device)
        n_rows = stop - first
        if offset == 0:
            x, y = (g.expand(n_rows, -1) for g in self.grid)
            zeros = torch.zeros(n_rows, x.shape[1], device=self.device)
            return ChainView(frames, x, y, zeros, zeros)
        step = self._steps[offset]
        rows = slice(first - step.first_pivot, stop - step.first_pivot)
        x, y = (None, None) if step.x is None else (step.x[rows], step.y[rows])
        return ChainView(frames, x, y, step.u[rows], step.v[rows])
