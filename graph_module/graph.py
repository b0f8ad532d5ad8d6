"""The space-time graph and its one operation, x -> M x, without ever building M.

Every chain position (x, y) in a destination frame links the pivot pixel to the four pixels around
it, floor/ceil of x and y, each with the same weight g(k) = exp(-0.5 (k / sigma)^2) for frames k
apart (the reference computes bilinear weights and then replaces them by 1). When a coordinate is
an integer, floor == ceil and the same pixel is linked twice. Corners outside the image get no edge.

So the four corners of an edge always form a 2x2 block (or a 2x1 / 1x2 / 1x1 block counted 2 or 4
times), whose top-left corner lies in [-1, H-1] x [-1, W-1]. We store, per edge, one int32 "slot":
which of the 4 block shapes, and where its top-left corner is. Reading an edge's four corners is
then one read in a table of block sums of the destination frame, and writing to them is one add in
an accumulator that is spread back to pixels afterwards by a few dense shifted adds.
"""
import torch
import torch.nn.functional as F


def temporal_weights(sigma: float, max_offset: int, device='cpu') -> torch.Tensor:
    """g(k) for k = 0..max_offset, in float32 as the reference computes it."""
    k = torch.arange(0, max_offset + 1, 1, dtype=torch.float32, device=device)
    return torch.exp((-0.5) * (k / sigma) ** 2)


def block_slots(x: torch.Tensor, y: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Slot of each chain position's corner block in one frame's table of 4 x (H+1) x (W+1) block sums.

    Shape 0: x and y integers (one pixel, 4 times); 1: x fractional only (1x2, twice); 2: y
    fractional only (2x1, twice); 3: both fractional (2x2). Positions whose whole block lies outside
    the image (or that are not finite) get -1.
    """
    x0, y0 = torch.floor(x), torch.floor(y)
    shape = (torch.ceil(x) != x0).int() + 2 * (torch.ceil(y) != y0).int()
    live = (x0 >= -1) & (x0 <= width - 1) & (y0 >= -1) & (y0 <= height - 1)
    x0 = torch.where(live, x0, 0).int() + 1
    y0 = torch.where(live, y0, 0).int() + 1
    slots = (shape * (height + 1) + y0) * (width + 1) + x0
    return torch.where(live, slots, -1)


def block_sum_table(maps: torch.Tensor) -> torch.Tensor:
    """n x H x W maps -> n x 4 x (H+1) x (W+1) sums over each corner block (pixels counted with
    their multiplicity), indexed by the top-left corner + 1. Outside pixels count as 0."""
    padded = F.pad(maps, (1, 1, 1, 1))
    top_left = padded[:, :-1, :-1]
    right = padded[:, :-1, 1:]
    below = padded[:, 1:, :-1]
    return torch.stack((4 * top_left,
                        2 * (top_left + right),
                        2 * (top_left + below),
                        top_left + right + below + padded[:, 1:, 1:]), dim=1)


def spread_blocks(accumulator: torch.Tensor) -> torch.Tensor:
    """The transpose of block_sum_table: n x 4 x (H+1) x (W+1) per-block amounts -> n x H x W,
    every block adding its amount to each of its (in-image) pixels, with multiplicity."""
    one, right_pair, down_pair, square = accumulator.unbind(1)
    n, h1, w1 = one.shape
    padded = one.new_zeros(n, h1 + 1, w1 + 1)
    padded[:, :-1, :-1] += 4 * one + 2 * right_pair + 2 * down_pair + square
    padded[:, :-1, 1:] += 2 * right_pair + square
    padded[:, 1:, :-1] += 2 * down_pair + square
    padded[:, 1:, 1:] += square
    return padded[:, 1:-1, 1:-1]


class SpaceTimeGraph:
    """Edges of the whole video, grouped by frame offset; `propagate` computes M x.

    For an offset k, the pivots first_pivot .. first_pivot + n_k - 1 link to frames pivot + k; their
    edges are an n_k x N tensor of slots into one flat table holding every frame's block sums (slot
    `dead` holds 0 and absorbs writes of edges that leave the image).
    """

    def __init__(self, n_frames: int, height: int, width: int, sigma: float, max_offset: int, device):
        self.n_frames, self.height, self.width = n_frames, height, width
        self.slots_per_frame = 4 * (height + 1) * (width + 1)
        self.dead = n_frames * self.slots_per_frame
        index_dtype = torch.int32 if self.dead < 2 ** 31 - 1 else torch.int64
        self.index_dtype = index_dtype
        self.weights = temporal_weights(sigma, max_offset, device).tolist()
        self.groups = []  # (offset, first_pivot, n_k x N slots)

    def add_edges(self, offset: int, first_pivot: int, x: torch.Tensor, y: torch.Tensor):
        """Add the edges from pivots first_pivot.. to frames pivot + offset, at chain positions x, y."""
        local = block_slots(x, y, self.height, self.width)
        first_destination = first_pivot + offset
        frame_base = (torch.arange(x.shape[0], device=x.device, dtype=self.index_dtype)
                      + first_destination) * self.slots_per_frame
        slots = torch.where(local >= 0, local.to(self.index_dtype) + frame_base[:, None],
                            torch.tensor(self.dead, dtype=self.index_dtype, device=x.device))
        self.groups.append((offset, first_pivot, slots))

    def propagate(self, x: torch.Tensor) -> torch.Tensor:
        """M x for maps x (n x N): x itself (self weight g(0) = 1), plus what every pivot pixel
        receives from the pixels its chains reach (gather), plus what it gives them (scatter).

        As in the reference, pixel 0 of every frame receives neither, only its own value."""
        n, height, width = self.n_frames, self.height, self.width
        table = block_sum_table(x.view(n, height, width)).reshape(-1)
        table = torch.cat((table, table.new_zeros(1)))
        accumulator = torch.zeros_like(table)
        gathered = torch.zeros_like(x)
        for offset, first, slots in self.groups:
            weight = self.weights[abs(offset)]
            rows = slice(first, first + slots.shape[0])
            flat = slots.view(-1)
            gathered[rows].add_(table.index_select(0, flat).view_as(slots), alpha=weight)
            accumulator.index_add_(0, flat, (x[rows] * weight).view(-1))
        scattered = spread_blocks(accumulator[:-1].view(n, 4, height + 1, width + 1))
        result = x + gathered + scattered.reshape(n, -1)
        result[:, 0] = x[:, 0]
        return result

    def memory_bytes(self) -> int:
        return sum(s.numel() * s.element_size() for _, _, s in self.groups)
