"""Our graph module against a slow, literal re-implementation of the reference's semantics.

`Reference` below follows the reference code path step by step, per pivot frame and per destination
frame of its +-15 window, with lists of per-frame tensors: chains with torch.round nearest-neighbour
sampling (float32, displacement accumulated first, then the grid added), direction and cue features
with the reference's clamping and truncation, global min-max normalisation of the feature blocks,
four floor/ceil corners per edge (weight g(k) inside the image, weight 0 and index 0 outside),
index_add scatter and gather with pixel 0 of both contributions zeroed, the ridge regression in the
reference's float32 order and the per-frame min-max. Ours (block-sum slots, integer edges aside,
all pivots walked together in chunks) must agree with it on small random videos built to hit the
awkward cases: exact integer positions and rounding ties, zero flow, chains leaving the image on
every side, and videos shorter and longer than the 31-frame window.
"""
import warnings

import numpy as np
import pytest
import torch

import graph_module.chains
from graph_module.build import build_graph
from graph_module.chains import walk_chains
from graph_module.inputs import resize_flow
from graph_module.power_iteration import minmax_per_frame_, power_iterations
from graph_module.regression import ridge_inverses, ridge_predict
from graph_module.run import run_graph_module
from graph_module.seeds import seed_map
from graph_module.settings import GraphSettings
from ike_utils.config import load_config
from conftest import REPO, random_cues, random_flows, write_config, write_feature_folder, write_video

WINDOW = 15
pytestmark = pytest.mark.usefixtures('single_thread')


# ---------------------------------------------------------------------------------------------
# The reference, re-implemented literally (slow; lists of per-frame tensors, one pivot at a time)
# ---------------------------------------------------------------------------------------------
def ref_windows(pivot, n_frames):
    """Destinations of a pivot in the reference's order: forward p+1.., then backward p-1.."""
    forward = list(range(pivot + 1, min(pivot + WINDOW, n_frames - 1) + 1))
    backward = list(range(pivot - 1, max(-1, pivot - WINDOW - 1), -1))
    return forward + backward


def ref_chains(fwd, bwd, pivot):
    """{frame: (x, y)} unclamped positions and {frame: (u, v)} directions of one pivot's chains,
    each a flat float32 vector over the pivot's pixels."""
    n_frames, height, width = fwd.shape[0] + 1, fwd.shape[1], fwd.shape[2]
    yy, xx = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                            torch.arange(width, dtype=torch.float32), indexing='ij')
    positions = {pivot: (xx.reshape(-1), yy.reshape(-1))}
    directions = {pivot: (torch.zeros(height * width), torch.zeros(height * width))}
    walks = ((fwd, range(pivot, min(pivot + WINDOW, n_frames - 1)), 1),   # fwd[j]: j -> j+1
             (bwd, range(pivot - 1, max(-1, pivot - WINDOW - 1), -1), 0))  # bwd[j]: j+1 -> j
    for flows, steps, shift in walks:
        disp_x = torch.zeros(height, width)
        disp_y = torch.zeros(height, width)
        for j in steps:
            col = torch.round(disp_x + xx).long()
            row = torch.round(disp_y + yy).long()
            col[col >= width] = width - 1
            col[col < 0] = 0
            row[row >= height] = height - 1
            row[row < 0] = 0
            u = flows[j][:, :, 0][row, col]
            v = flows[j][:, :, 1][row, col]
            disp_x.add_(u)
            disp_y.add_(v)
            destination = j + shift
            directions[destination] = (u.reshape(-1).clone(), v.reshape(-1).clone())
            positions[destination] = ((xx + disp_x).reshape(-1), (yy + disp_y).reshape(-1))
    return positions, directions


def ref_direction_features(directions, pivot, n_frames, half):
    frames = list(range(pivot - half, pivot)) + list(range(pivot + 1, pivot + half + 1))
    frames = [min(max(f, 0), n_frames - 1) for f in frames]
    columns = [directions[f][0] for f in frames] + [directions[f][1] for f in frames]
    return torch.stack(columns, dim=1)


def ref_cue_features(positions, cues, pivot, n_frames, half, height, width):
    """cues: list of per-frame N x C tensors."""
    frames = [min(max(f, 0), n_frames - 1) for f in range(pivot - half, pivot + half + 1)]
    blocks = []
    for f in frames:
        x, y = positions[f]
        col, row = x.long(), y.long()  # truncation toward zero
        outside = ~((col >= 0) & (col < width) & (row >= 0) & (row < height))
        col = col.clamp(0, width - 1)
        row = row.clamp(0, height - 1)
        sampled = cues[f][row * width + col, :].clone()
        sampled[outside, :] = 0
        blocks.append(sampled)
    return torch.cat(blocks, dim=1)


def ref_corners(x, y, weight, height, width):
    """(weights N x 4, indices N x 4) of the four floor/ceil corners, 0 / index 0 outside."""
    x0, x1, y0, y1 = torch.floor(x).long(), torch.ceil(x).long(), torch.floor(y).long(), torch.ceil(y).long()
    weights, indices = [], []
    for cx, cy in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
        inside = ((cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)).float()
        indices.append(((cy * width + cx) * inside).long())
        weights.append(inside * weight)
    return torch.stack(weights, dim=1), torch.stack(indices, dim=1)


class Reference:
    """The reference graph of one video; flows (n-1) x H x W x 2 at working size, cues n x C x H x W."""

    def __init__(self, fwd, bwd, cues, sigma, dir_half, cue_half):
        n_frames, height, width = fwd.shape[0] + 1, fwd.shape[1], fwd.shape[2]
        self.n, self.h, self.w = n_frames, height, width
        if cues is None:
            cue_half = -1
        cue_list = None if cues is None else [c.reshape(c.shape[0], -1).t() for c in cues]
        g = torch.exp((-0.5) * (torch.arange(0, 16, 1, dtype=torch.float32) / sigma) ** 2)
        self.g = g
        self.positions, self.directions, self.edges, features = [], [], {}, []
        for pivot in range(n_frames):
            positions, directions = ref_chains(fwd, bwd, pivot)
            self.positions.append(positions)
            self.directions.append(directions)
            parts = []
            if dir_half >= 0:
                parts.append(ref_direction_features(directions, pivot, n_frames, dir_half))
            if cue_half >= 0:
                parts.append(ref_cue_features(positions, cue_list, pivot, n_frames, cue_half, height, width))
            features.append(torch.cat(parts, dim=1) if parts else torch.zeros(height * width, 0))
            for d in ref_windows(pivot, n_frames):
                x, y = positions[d]
                self.edges[pivot, d] = ref_corners(x, y, g[abs(d - pivot)], height, width)
        features = torch.stack(features)  # n x N x F
        blocks = [(k * dir_half, (k + 1) * dir_half) for k in range(4)] if dir_half >= 0 else []
        if cue_half >= 0:
            start = 4 * dir_half if dir_half >= 0 else 0
            blocks.append((start, features.shape[2]))
        for start, stop in blocks:
            low, high = torch.min(features[:, :, start:stop]), torch.max(features[:, :, start:stop])
            features[:, :, start:stop] = (features[:, :, start:stop] - low) / (high - low)
        self.features = features
        self.clipped = False  # whether a regression ever predicted negative values

    def design(self):
        ones = torch.ones(self.n, self.h * self.w, 1)
        return torch.cat((self.features, ones), dim=2)

    def propagate(self, maps):
        """maps: list of per-frame N-vectors; returns M x the reference's way."""
        out = [torch.zeros(self.h * self.w) for _ in range(self.n)]
        for pivot in range(self.n):
            source = maps[pivot].clone()
            out[pivot].add_(source * self.g[0])
            for d in ref_windows(pivot, self.n):
                weights, indices = self.edges[pivot, d]
                given = torch.zeros(self.h * self.w)
                taken = torch.zeros(self.h * self.w)
                for corner in range(4):
                    given.index_add_(0, indices[:, corner], source * weights[:, corner])
                    taken = taken + maps[d][indices[:, corner]] * weights[:, corner]
                given[0] = 0
                taken[0] = 0
                out[d].add_(given)
                out[pivot].add_(taken)
        return out

    def regress(self, maps, ridge_lambda):
        design = self.design()
        results = []
        for frame in range(self.n):
            x = design[frame]
            y = maps[frame][:, None].clone()
            y = (y - torch.min(y)) / (torch.max(y) - torch.min(y))
            eye = torch.eye(x.shape[1], dtype=torch.float32)
            inverse = torch.inverse(torch.mm(x.t(), x) + ridge_lambda * eye)
            w = torch.mm(torch.mm(inverse, x.t()), y)
            r = torch.mm(x, w)
            self.clipped |= bool((r < 0).any())
            r[r < 0] = 0
            r = (r - torch.min(r)) / (torch.max(r) - torch.min(r))
            results.append(r[:, 0])
        return results

    def run(self, seed_maps, n_iterations, ridge_lambda):
        """All iterations' outputs, from a list of per-frame N-vectors."""
        maps, outputs = [m.clone() for m in seed_maps], []
        for _ in range(n_iterations):
            propagated = self.propagate(maps)
            propagated = [(m - torch.min(m)) / (torch.max(m) - torch.min(m)) for m in propagated]
            maps = self.regress(propagated, ridge_lambda)
            outputs.append(torch.stack(maps))
        return outputs


def ref_seed(seed_type, height, width, sigma_percent=0.3):
    """One frame's seed as the reference draws it (H x W float32)."""
    if seed_type == 0:
        np.random.seed(115)
        values = np.random.rand(height, width, 1)[:, :, 0]
    elif seed_type == 1:
        values = np.ones((height, width))
    else:
        sigma = min(height, width) * sigma_percent
        xx, yy = np.meshgrid(np.arange(0, width, 1), np.arange(0, height, 1))
        xx = xx - np.int32(width * 0.5)
        yy = yy - np.int32(height * 0.5)
        values = np.exp((-1) * (xx * xx + yy * yy) * (1 / (2 * sigma * sigma)))
        values = (values - np.min(values)) / (np.max(values) - np.min(values))
    return torch.tensor(values, dtype=torch.float32)


def ref_resize_flow(flow, height, width):
    """The reference's flow preprocessing: bilinear resize, vectors scaled by the size ratio."""
    flow_h, flow_w = flow.shape[0], flow.shape[1]
    resized = torch.nn.functional.interpolate(torch.tensor(flow, dtype=torch.float32)[None].permute(0, 3, 1, 2),
                                              size=(height, width), mode='bilinear', align_corners=False)
    resized = resized.squeeze().permute(1, 2, 0).clone()
    resized[:, :, 0] = resized[:, :, 0] * (width / flow_w)
    resized[:, :, 1] = resized[:, :, 1] * (height / flow_h)
    return resized


# ---------------------------------------------------------------------------------------------
# Videos
# ---------------------------------------------------------------------------------------------
# (name, n_frames, H, W, flow kwargs): both sides of the 31-frame window, ties and integers
VIDEOS = {
    'short_quantised': (9, 12, 16, dict(quantum=0.5, scale=2.5)),
    'long_quantised': (35, 12, 16, dict(quantum=0.5, scale=2.0)),
    'long_real': (34, 14, 18, dict(quantum=None, scale=2.5)),
    'two_frames': (2, 12, 16, dict(quantum=0.5, scale=3.0)),
    'wide_moves': (20, 12, 20, dict(quantum=0.25, scale=5.0, drift=3.0)),
}


def video(name, seed=0):
    n_frames, height, width, kwargs = VIDEOS[name]
    fwd = random_flows(100 + seed, n_frames, height, width, **kwargs)
    bwd = random_flows(200 + seed, n_frames, height, width, **kwargs)
    return fwd, bwd


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunk sizes that split the pivots into several chunks, so chunk boundaries are exercised."""
    monkeypatch.setattr(graph_module.chains, 'CHUNK_ELEMENTS', 3 * 12 * 16 + 5)


def our_chains(fwd, bwd):
    """{(pivot, destination): (x, y, u, v)} from walk_chains in both directions."""
    chains = {}
    for flows, forward in ((fwd, True), (bwd, False)):
        for step in walk_chains(flows, WINDOW, forward):
            for row in range(step.x.shape[0]):
                pivot = step.first_pivot + row
                chains[pivot, pivot + step.offset] = (step.x[row].clone(), step.y[row].clone(),
                                                      step.u[row].clone(), step.v[row].clone())
    return chains


# ---------------------------------------------------------------------------------------------
# (a) chains
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', list(VIDEOS))
def test_chains_match_reference_exactly(name, small_chunks):
    fwd, bwd = video(name)
    n_frames, height, width = fwd.shape[0] + 1, fwd.shape[1], fwd.shape[2]
    ours = our_chains(fwd, bwd)
    expected_keys = {(p, d) for p in range(n_frames) for d in ref_windows(p, n_frames)}
    assert set(ours) == expected_keys
    left_on = set()
    for pivot in range(n_frames):
        positions, directions = ref_chains(fwd, bwd, pivot)
        for d in ref_windows(pivot, n_frames):
            x, y, u, v = ours[pivot, d]
            assert torch.equal(x, positions[d][0]), (pivot, d)
            assert torch.equal(y, positions[d][1]), (pivot, d)
            assert torch.equal(u, directions[d][0]), (pivot, d)
            assert torch.equal(v, directions[d][1]), (pivot, d)
            rx, ry = positions[d]
            left_on |= {side for side, hit in (('left', rx < 0), ('right', rx > width - 1), ('top', ry < 0),
                                               ('bottom', ry > height - 1)) if bool(hit.any())}
    if name != 'two_frames':  # the test data must really exercise chains leaving the image
        assert left_on == {'left', 'right', 'top', 'bottom'}


def test_quantised_chains_hit_ties_and_integers():
    """The quantised videos really contain positions at .5 (rounding ties) and integer coordinates,
    so the chain and edge tests above exercise them."""
    fwd, bwd = video('long_quantised')
    positions, _ = ref_chains(fwd, bwd, 10)
    xs = torch.cat([positions[d][0] for d in ref_windows(10, fwd.shape[0] + 1)])
    assert bool(((xs - torch.floor(xs)) == 0.5).any())
    assert bool((xs == torch.floor(xs)).any())


# ---------------------------------------------------------------------------------------------
# (b) the design matrix
# ---------------------------------------------------------------------------------------------
FEATURE_CASES = [  # (video, dir_half, cue_half, cue channels)
    ('long_quantised', 5, -1, 0),
    ('long_real', 5, 1, 3),
    ('short_quantised', 5, 2, 2),   # half chain of the directions reaches past both ends
    ('short_quantised', 1, 0, 1),
    ('two_frames', 3, 1, 2),
    ('wide_moves', -1, 1, 2),       # cues only
    ('long_quantised', 15, 15, 1),  # the largest half chains
]


@pytest.mark.parametrize('name, dir_half, cue_half, channels', FEATURE_CASES)
def test_design_matches_reference(name, dir_half, cue_half, channels, small_chunks):
    fwd, bwd = video(name, seed=1)
    n_frames, height, width = fwd.shape[0] + 1, fwd.shape[1], fwd.shape[2]
    cues = random_cues(7, n_frames, channels, height, width) if channels else None
    reference = Reference(fwd, bwd, cues, 4.0, dir_half, cue_half)
    _, design = build_graph(fwd, bwd, cues, 4.0, dir_half, cue_half)
    expected = reference.design()
    assert design.shape == expected.shape
    assert design.dtype == torch.float32
    torch.testing.assert_close(design, expected, rtol=0, atol=1e-6)


def test_design_without_cues_ignores_cue_half_chain():
    """Without cues the reference forces features_half_chain_size to -1: 4h columns plus the bias."""
    fwd, bwd = video('short_quantised')
    _, design = build_graph(fwd, bwd, None, 4.0, 5, 1)
    assert design.shape[2] == 4 * 5 + 1
    assert torch.equal(design[:, :, -1], torch.ones_like(design[:, :, -1]))


# ---------------------------------------------------------------------------------------------
# (c) one propagation step
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', list(VIDEOS))
@pytest.mark.parametrize('sigma', [4.0, 1.5])
def test_propagate_matches_reference(name, sigma, small_chunks):
    fwd, bwd = video(name, seed=2)
    n_frames, height, width = fwd.shape[0] + 1, fwd.shape[1], fwd.shape[2]
    reference = Reference(fwd, bwd, None, sigma, 5, -1)
    graph, _ = build_graph(fwd, bwd, None, sigma, 5, -1)
    generator = torch.Generator().manual_seed(3)
    for trial in range(2):
        x = torch.rand(n_frames, height * width, generator=generator)
        if trial == 1:
            x = x - 0.5  # signed values: no cancellation hides a wrong sign or a missed edge
        expected = torch.stack(reference.propagate(list(x)))
        out = torch.full_like(x, float('nan'))
        result = graph.propagate(x.clone(), out)
        assert result is out or torch.equal(result, out)
        scale = float(expected.abs().max())
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize('threads', [2, 3])
def test_propagate_with_threads_matches_reference(threads, small_chunks):
    """On the CPU the scatter is split between threads by destination frame (a plan made on the first
    call, from torch.get_num_threads()); with 2 and 3 parts and chunks cut across the parts."""
    fwd, bwd = video('long_quantised', seed=4)
    n_frames, height, width = fwd.shape[0] + 1, fwd.shape[1], fwd.shape[2]
    reference = Reference(fwd, bwd, None, 4.0, 5, -1)
    torch.set_num_threads(threads)  # the single_thread fixture restores it
    graph, _ = build_graph(fwd, bwd, None, 4.0, 5, -1)
    generator = torch.Generator().manual_seed(9)
    for _ in range(2):
        x = torch.rand(n_frames, height * width, generator=generator) - 0.3
        expected = torch.stack(reference.propagate(list(x)))
        out = graph.propagate(x, torch.empty_like(x))
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))


def test_propagate_is_repeatable_and_leaves_input_alone():
    """The buffers kept across calls must not leak one call's result into the next."""
    fwd, bwd = video('long_quantised')
    graph, _ = build_graph(fwd, bwd, None, 4.0, 5, -1)
    x = torch.rand(fwd.shape[0] + 1, fwd.shape[1] * fwd.shape[2], generator=torch.Generator().manual_seed(0))
    keep = x.clone()
    first = graph.propagate(x, torch.empty_like(x)).clone()
    graph.propagate(torch.rand_like(x), torch.empty_like(x))
    second = graph.propagate(x, torch.empty_like(x))
    assert torch.equal(x, keep)
    assert torch.equal(first, second)


def test_propagate_zero_flow_counts_integer_corners_four_times():
    """All flows zero: every chain stays on its pixel (integer x and y), so the reference links each
    pixel to itself in every other frame of the window, four times over: (Mx)[p][i] =
    x[p][i] + sum_d 2 * 4 g(|d-p|) x[d][i] (d -> p and p -> d chains both count), except pixel 0."""
    n_frames, height, width = 20, 12, 16
    zeros = torch.zeros(n_frames - 1, height, width, 2)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        graph, _ = build_graph(zeros, zeros, None, 4.0, 5, -1)
    x = torch.rand(n_frames, height * width, generator=torch.Generator().manual_seed(1))
    out = graph.propagate(x, torch.empty_like(x))
    g = torch.exp(-0.5 * (torch.arange(16, dtype=torch.float32) / 4.0) ** 2)
    expected = x.clone()
    for p in range(n_frames):
        for d in range(max(0, p - WINDOW), min(n_frames, p + WINDOW + 1)):
            if d != p:
                expected[p] += 8 * g[abs(d - p)] * x[d]
    expected[:, 0] = x[:, 0]
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# regression, seeds, flow resizing
# ---------------------------------------------------------------------------------------------
def test_ridge_matches_reference_order():
    fwd, bwd = video('long_real')
    reference = Reference(fwd, bwd, None, 4.0, 5, -1)
    design = reference.design()
    generator = torch.Generator().manual_seed(4)
    targets = torch.rand(design.shape[0], design.shape[1], generator=generator)
    minmax_per_frame_(targets)
    inverses = ridge_inverses(design, 100.0)
    predicted = ridge_predict(design, inverses, targets)
    for frame in range(design.shape[0]):
        x = design[frame]
        inverse = torch.inverse(torch.mm(x.t(), x) + 100.0 * torch.eye(x.shape[1]))
        expected = torch.mm(x, torch.mm(torch.mm(inverse, x.t()), targets[frame][:, None]))[:, 0]
        torch.testing.assert_close(predicted[frame], expected, rtol=1e-6, atol=1e-6)


def test_minmax_per_frame():
    maps = torch.tensor([[1.0, 3.0, 2.0], [5.0, 5.0, 5.0], [-2.0, 0.0, 2.0]])
    constant = minmax_per_frame_(maps)
    assert constant == 1
    assert torch.equal(maps, torch.tensor([[0.0, 1.0, 0.5], [0.0, 0.0, 0.0], [0.0, 0.5, 1.0]]))


@pytest.mark.parametrize('seed_type', [0, 1, 2])
@pytest.mark.parametrize('height, width', [(12, 16), (7, 11), (224, 416)])
def test_seeds_match_reference(seed_type, height, width):
    for sigma_percent in (0.3, 0.5):
        ours = seed_map(seed_type, height, width, sigma_percent)
        assert ours.dtype == torch.float32 and ours.shape == (height, width)
        assert torch.equal(ours, ref_seed(seed_type, height, width, sigma_percent))


@pytest.mark.parametrize('flow_hw, working_hw', [((24, 32), (12, 16)), ((13, 21), (12, 16)), ((12, 16), (12, 16)),
                                                 ((9, 10), (36, 64))])
def test_resize_flow_matches_reference(flow_hw, working_hw):
    flow = np.random.default_rng(0).normal(0, 3, size=(*flow_hw, 2)).astype(np.float32)
    ours = resize_flow(torch.from_numpy(flow), *working_hw)
    expected = ref_resize_flow(flow, *working_hw)
    assert ours.shape == (*working_hw, 2)
    assert torch.equal(ours, expected)


# ---------------------------------------------------------------------------------------------
# (d) whole runs: 20 iterations
# ---------------------------------------------------------------------------------------------
def our_run(fwd, bwd, cues, seed_type, n_iterations=20, dir_half=5, cue_half=1, ridge_lambda=100.0):
    n_frames, height, width = fwd.shape[0] + 1, fwd.shape[1], fwd.shape[2]
    graph, design = build_graph(fwd, bwd, cues, 4.0, dir_half, cue_half)
    inverses = ridge_inverses(design, ridge_lambda)
    seed = seed_map(seed_type, height, width, 0.5).reshape(1, -1).repeat(n_frames, 1)
    outputs = []
    power_iterations(graph, design, inverses, seed, n_iterations,
                     on_iteration=lambda k, maps: outputs.append(maps.clone()))
    return outputs


RUN_CASES = [  # (video, seed type, cue folders, lambda)
    ('long_real', 0, 0, 100.0),
    ('short_quantised', 1, 0, 100.0),
    ('long_quantised', 2, 0, 100.0),
    ('long_real', 2, 1, 100.0),
    ('long_quantised', 0, 2, 100.0),
    ('short_quantised', 0, 2, 0.01),  # a weak ridge: the regression predicts negatives, clipped to 0
]


@pytest.mark.parametrize('name, seed_type, n_cue_folders, ridge_lambda', RUN_CASES)
def test_twenty_iterations_match_reference(name, seed_type, n_cue_folders, ridge_lambda):
    fwd, bwd = video(name, seed=3)
    n_frames, height, width = fwd.shape[0] + 1, fwd.shape[1], fwd.shape[2]
    cues = None
    if n_cue_folders:  # folders concatenated along channels: one 1-channel map and one 2-channel
        cues = torch.cat([random_cues(10 + k, n_frames, 1 + k, height, width) for k in range(n_cue_folders)], dim=1)
    reference = Reference(fwd, bwd, cues, 4.0, 5, 1)
    seed = ref_seed(seed_type, height, width, 0.5).reshape(-1)
    expected = reference.run([seed] * n_frames, 20, ridge_lambda)
    ours = our_run(fwd, bwd, cues, seed_type, ridge_lambda=ridge_lambda)
    assert len(ours) == 20
    if ridge_lambda < 1:
        assert reference.clipped, 'the weak-ridge case must exercise the clipping of negatives'
    for k in (0, 1, 19):
        difference = float((ours[k] - expected[k]).abs().max())
        assert difference <= 1e-4, f'iteration {k}: max abs difference {difference}'
    assert float(expected[19].max()) == 1.0 and float(expected[19].min()) == 0.0


def test_run_from_files_matches_reference(tmp_path):
    """Through run_graph_module: .flo files at twice the working size (so the resize matters), two
    feature folders, seed 2; the saved iter_19 and the seed equal the reference within 1e-4."""
    n_frames, height, width = 12, 12, 16
    fwd_big = random_flows(31, n_frames, 2 * height, 2 * width, scale=4.0, quantum=None).numpy()
    bwd_big = random_flows(32, n_frames, 2 * height, 2 * width, scale=4.0, quantum=None).numpy()
    frames_path, of_path = write_video(tmp_path / 'video', n_frames, (30, 41), fwd_big, bwd_big)
    cue_a = random_cues(40, n_frames, 1, height, width)
    cue_b = random_cues(41, n_frames, 2, height, width)
    folders = [write_feature_folder(tmp_path / 'cues_a', cue_a), write_feature_folder(tmp_path / 'cues_b', cue_b)]
    config = write_config(tmp_path / 'config.ini', (height, width), seed_type=2, to_save_iterations='-1, 19',
                          ike_features_paths=[str(f) for f in folders])
    settings = GraphSettings.from_config(load_config(config))
    assert settings.features_paths == tuple(str(f) for f in folders)
    run_graph_module(frames_path, of_path, tmp_path / 'out', settings, torch.device('cpu'), quiet=True)

    fwd = torch.stack([ref_resize_flow(f, height, width) for f in fwd_big])
    bwd = torch.stack([ref_resize_flow(f, height, width) for f in bwd_big])
    reference = Reference(fwd, bwd, torch.cat((cue_a, cue_b), dim=1), 4.0, 5, 1)
    seed = ref_seed(2, height, width, 0.5)
    expected = reference.run([seed.reshape(-1)] * n_frames, 20, 100.0)[19]
    for index in range(n_frames):
        saved_seed = torch.load(tmp_path / 'out' / 'iter_-1' / ('%05d.pt' % index), weights_only=True)
        assert torch.equal(saved_seed, seed[:, :, None])
        saved = torch.load(tmp_path / 'out' / 'iter_19' / ('%05d.pt' % index), weights_only=True)
        assert saved.shape == (height, width, 1) and saved.dtype == torch.float32
        difference = float((saved[:, :, 0] - expected[index].reshape(height, width)).abs().max())
        assert difference <= 1e-4, f'frame {index}: max abs difference {difference}'


# ---------------------------------------------------------------------------------------------
# settings read as the reference reads them
# ---------------------------------------------------------------------------------------------
def test_settings_follow_the_reference(tmp_path):
    """seed_type_sigma_percent falls back to 0.3; without feature folders features_half_chain_size
    becomes -1; ike_features_paths is one folder per line; the paper's config.ini gives the paper's
    values."""
    config = write_config(tmp_path / 'a.ini', (36, 64), seed_type_sigma_percent=None, features_half_chain_size=1,
                          ike_features_paths='')
    settings = GraphSettings.from_config(load_config(config))
    assert settings.seed_sigma_percent == 0.3
    assert settings.cue_half_chain == -1 and settings.features_paths == ()
    config = write_config(tmp_path / 'b.ini', (36, 64), ike_features_paths=['first/iter_19', 'second/iter_0'],
                          features_half_chain_size=2)
    settings = GraphSettings.from_config(load_config(config))
    assert settings.features_paths == ('first/iter_19', 'second/iter_0') and settings.cue_half_chain == 2
    paper = GraphSettings.from_config(load_config(REPO / 'config.ini'))
    assert (paper.working_h, paper.working_w, paper.seed_type, paper.sigma, paper.n_iterations,
            paper.dir_half_chain, paper.ridge_lambda) == (224, 416, 0, 4.0, 20, 5, 100.0)
    assert paper.to_save_iterations == (-1, 19) and paper.features_paths == () and paper.cue_half_chain == -1
