"""Properties the issue demands of the graph: M is symmetric (except for the reference's pixel-0
quirk, which must be there), its entries are whole multiples of g(k), the power iteration converges
on a clean synthetic video to an answer that does not depend on the seed and finds the object, and
a video with no motion gives finite outputs with a warning instead of NaN."""
import warnings

import numpy as np
import pytest
import torch

from conftest import random_flows, write_video
from graph_module.build import build_graph
from graph_module.chains import Flows, walk_chains
from graph_module.power_iteration import power_iterations
from graph_module.regression import ridge_inverses
from graph_module.run import run_graph_module
from graph_module.seeds import seed_map
from graph_module.settings import GraphSettings
from graph_module.workers import ops_on_one_thread, worker_threads
from ike_utils.synthetic import make_clip

pytestmark = pytest.mark.usefixtures('single_thread')


def synthetic_graph(n_frames=12, height=36, width=64, dir_half=5):
    clip = make_clip(n_frames=n_frames, height=height, width=width, seed=0)
    fwd, bwd = torch.from_numpy(clip.fwd_flows), torch.from_numpy(clip.bwd_flows)
    graph, design = build_graph(fwd, bwd, None, 4.0, dir_half, -1)
    return clip, graph, design


def random_graph(name):
    n_frames, height, width, quantum = {'quantised': (18, 12, 16, 0.5), 'real': (34, 14, 18, None)}[name]
    fwd = random_flows(1, n_frames, height, width, quantum=quantum)
    bwd = random_flows(2, n_frames, height, width, quantum=quantum)
    graph, _ = build_graph(fwd, bwd, None, 4.0, 5, -1)
    return graph, n_frames, height * width


def asymmetry(graph, x, y):
    """|<Mx, y> - <x, My>| relative to |Mx| |y| (a bound on either inner product)."""
    mx = graph.propagate(x, torch.empty_like(x)).double()
    my = graph.propagate(y, torch.empty_like(y)).double()
    left, right = float((mx * y.double()).sum()), float((x.double() * my).sum())
    return abs(left - right) / float(mx.norm() * y.double().norm())


# ---------------------------------------------------------------------------------------------
# symmetry
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', ['quantised', 'real', 'synthetic'])
def test_propagation_is_symmetric_away_from_pixel_zero(name):
    if name == 'synthetic':
        clip, graph, _ = synthetic_graph()
        n_frames, n_pixels = clip.frames.shape[0], clip.frames.shape[1] * clip.frames.shape[2]
    else:
        graph, n_frames, n_pixels = random_graph(name)
    generator = torch.Generator().manual_seed(5)
    for trial in range(3):
        x = torch.rand(n_frames, n_pixels, generator=generator) - 0.5 * trial
        y = torch.rand(n_frames, n_pixels, generator=generator) - 0.25 * trial
        x[:, 0] = 0
        y[:, 0] = 0
        assert asymmetry(graph, x, y) < 1e-7, f'trial {trial}'
        # the same maps with pixel 0 set: the reference's quirk (pixel 0 receives nothing, but gives)
        # makes M asymmetric there; this shows the test above can fail
        x[:, 0] = 5.0
        y[:, 0] = 7.0
        assert asymmetry(graph, x, y) > 1e-5, f'trial {trial}: no pixel-0 asymmetry'


def explicit_matrix(graph, n_frames, n_pixels):
    """M built column by column from propagate (tiny videos only)."""
    columns = []
    for index in range(n_frames * n_pixels):
        basis = torch.zeros(n_frames * n_pixels)
        basis[index] = 1
        columns.append(graph.propagate(basis.view(n_frames, n_pixels), torch.empty(n_frames, n_pixels)).reshape(-1))
    return torch.stack(columns, dim=1)


@pytest.mark.parametrize('quantum', [0.5, None])
def test_explicit_matrix_structure(quantum):
    """On a tiny video: M = M^T outside the rows/columns of pixel 0; the row of pixel 0 is that of the
    identity; frames are linked to themselves only through the identity; every entry linking frames
    k apart is a whole multiple of g(k) (equal corner weights, integer corners counted twice); edges
    reach exactly the frames within 15 of each other; no entry is negative."""
    n_frames, height, width = 19, 4, 5
    n_pixels = height * width
    fwd = random_flows(11, n_frames, height, width, scale=1.5, drift=0.8, quantum=quantum)
    bwd = random_flows(12, n_frames, height, width, scale=1.5, drift=0.8, quantum=quantum)
    graph, _ = build_graph(fwd, bwd, None, 4.0, 5, -1)
    matrix = explicit_matrix(graph, n_frames, n_pixels).view(n_frames, n_pixels, n_frames, n_pixels)
    assert bool((matrix >= 0).all())
    away = torch.ones(n_frames, n_pixels, dtype=torch.bool)
    away[:, 0] = False
    mask = away[:, :, None, None] & away[None, None, :, :]
    transposed = matrix.permute(2, 3, 0, 1)
    torch.testing.assert_close(matrix[mask], transposed[mask], rtol=1e-6, atol=1e-6)
    assert not torch.equal(matrix, transposed), 'pixel 0 should make M asymmetric'
    for p in range(n_frames):
        assert torch.equal(matrix[p, :, p, :], torch.eye(n_pixels))
        row_zero = matrix[p, 0].clone()
        row_zero[p, 0] -= 1
        assert float(row_zero.abs().max()) == 0, f'pixel 0 of frame {p} receives from other pixels'
    g = torch.exp(-0.5 * (torch.arange(16, dtype=torch.float32) / 4.0) ** 2)
    for p in range(n_frames):
        for d in range(n_frames):
            block = matrix[p, :, d, :]
            if p == d:
                continue
            if abs(p - d) > 15:
                assert float(block.abs().max()) == 0, (p, d)
                continue
            counts = block / g[abs(p - d)]
            torch.testing.assert_close(counts, torch.round(counts), rtol=0, atol=1e-4)
            # each pivot pixel has one chain to d and d's pixels one chain back: 4 corners each
            assert float(counts[1:].sum()) <= 8 * n_pixels
            assert float(counts.sum()) > 0, f'frames {p} and {d} are not linked'


# ---------------------------------------------------------------------------------------------
# the power iteration on a clean synthetic video
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def synthetic_runs():
    """40 iterations from each seed type on a 12-frame 36x64 synthetic clip."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    clip, graph, design = synthetic_graph()
    n_frames, height, width = clip.frames.shape[:3]
    inverses = ridge_inverses(design, 100.0)
    runs = {}
    for seed_type in (0, 1, 2):
        seed = seed_map(seed_type, height, width, 0.5).reshape(1, -1).repeat(n_frames, 1)
        outputs = []
        result = power_iterations(graph, design, inverses, seed, 40,
                                  on_iteration=lambda k, maps: outputs.append((k, maps.clone())))
        assert [k for k, _ in outputs] == list(range(40))
        assert torch.equal(result, outputs[-1][1])
        runs[seed_type] = [maps for _, maps in outputs]
    torch.set_num_threads(threads)
    return clip, runs


@pytest.mark.parametrize('seed_type', [0, 1, 2])
def test_power_iteration_converges(synthetic_runs, seed_type):
    _, runs = synthetic_runs
    maps = runs[seed_type]
    changes = [float((maps[k] - maps[k - 1]).abs().max()) for k in range(1, len(maps))]
    assert changes[0] > 1e-2, 'the first iterations should move away from the seed'
    assert max(changes[-10:]) < 1e-4, f'still changing by {max(changes[-10:])} after 30 iterations'
    assert changes[10] < changes[0] / 10
    for maps_k in maps:
        assert float(maps_k.min()) == 0.0 and float(maps_k.max()) == 1.0


def test_converged_output_does_not_depend_on_seed(synthetic_runs):
    _, runs = synthetic_runs
    final = {seed_type: maps[-1] for seed_type, maps in runs.items()}
    assert float((final[0] - final[1]).abs().max()) < 1e-3
    assert float((final[0] - final[2]).abs().max()) < 1e-3
    # while the seeds themselves, and the first iterations, differ
    assert float((runs[0][0] - runs[2][0]).abs().max()) > 1e-2


def test_converged_output_finds_the_object(synthetic_runs):
    clip, runs = synthetic_runs
    final = runs[0][-1]
    masks = torch.from_numpy(clip.masks.reshape(final.shape))
    predicted = final >= 0.5
    jaccard = float((predicted & masks).sum()) / float((predicted | masks).sum())
    assert jaccard > 0.7
    assert float(final[masks].mean()) > float(final[~masks].mean()) + 0.5


# ---------------------------------------------------------------------------------------------
# no motion at all
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('seed_type', [0, 1])
def test_no_motion_gives_finite_outputs_and_a_warning(tmp_path, seed_type):
    n_frames, height, width = 8, 12, 16
    zeros = np.zeros((n_frames - 1, height, width, 2), np.float32)
    frames_path, of_path = write_video(tmp_path / 'video', n_frames, (height, width), zeros, zeros)
    settings = GraphSettings(working_h=height, working_w=width, seed_type=seed_type, seed_sigma_percent=0.5,
                             sigma=4.0, n_iterations=5, to_save_iterations=(-1, 0, 4), dir_half_chain=5,
                             cue_half_chain=-1, ridge_lambda=100.0, features_paths=())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        run_graph_module(frames_path, of_path, tmp_path / 'out', settings, torch.device('cpu'), quiet=True)
    messages = [str(w.message) for w in caught]
    assert any('zero range' in m for m in messages), messages
    for iteration in (-1, 0, 4):
        for index in range(n_frames):
            saved = torch.load(tmp_path / 'out' / f'iter_{iteration}' / ('%05d.pt' % index), weights_only=True)
            assert saved.shape == (height, width, 1)
            assert bool(torch.isfinite(saved).all()), f'iter_{iteration}/{index:05d}.pt is not finite'
            assert (tmp_path / 'out' / f'iter_{iteration}_images' / ('%05d.png' % index)).is_file()


def test_no_motion_design_propagation_and_iterations_are_finite():
    """Each stage on its own: the constant feature blocks warn while building; then the regression
    on all-zero features predicts a constant map, and the iterations warn about that."""
    n_frames, height, width = 6, 8, 10
    zeros = torch.zeros(n_frames - 1, height, width, 2)
    with pytest.warns(UserWarning, match='zero range'):
        graph, design = build_graph(zeros, zeros, None, 4.0, 5, -1)
    assert bool(torch.isfinite(design).all())
    assert bool((design[:, :, :-1] == 0).all()) and bool((design[:, :, -1] == 1).all())
    x = torch.rand(n_frames, height * width)
    assert bool(torch.isfinite(graph.propagate(x, torch.empty_like(x))).all())
    inverses = ridge_inverses(design, 100.0)
    with pytest.warns(UserWarning, match='zero range'):
        result = power_iterations(graph, design, inverses, x, 3)
    assert bool(torch.isfinite(result).all())


# ---------------------------------------------------------------------------------------------
# declaring a node feature
# ---------------------------------------------------------------------------------------------
def test_a_declared_feature_block_becomes_normalised_columns():
    """A block declared with its columns, group and fill (here: the pivot pixel's column and the
    column where its chain lands 2 frames later, one group, and the pixel's row in a group of its
    own) lands after the reference's blocks, normalised per group over the whole video, while the
    reference's columns stay as they were."""
    from graph_module.build import GraphBuilder
    from graph_module.features import FeatureBlock, feature_blocks

    n_frames, height, width = 7, 12, 16
    fwd = random_flows(3, n_frames, height, width, quantum=None)
    bwd = random_flows(4, n_frames, height, width, quantum=None)

    def columns(chains, out):
        out[:, :, 0] = chains.at(0).x
        out[:, :, 1] = chains.at(2).x  # clamped to the last frame near the end of the video

    def rows(chains, out):
        out[:, :, 0] = chains.at(0).y

    blocks = feature_blocks(5, -1) + [FeatureBlock('columns', 2, group='position x', reach=2, fill=columns),
                                      FeatureBlock('rows', 1, group='position y', reach=0, fill=rows)]
    builder = GraphBuilder(n_frames, height, width, 4.0, blocks, 'cpu')
    builder.build(Flows.split(fwd), Flows.split(bwd))
    design = builder.finish()[1].design()
    _, reference_design = build_graph(fwd, bwd, None, 4.0, 5, -1)
    assert design.shape == (n_frames, height * width, 20 + 3 + 1)
    assert torch.equal(design[:, :, :20], reference_design[:, :, :20])
    assert torch.equal(design[:, :, -1], reference_design[:, :, -1])
    grid_x = torch.arange(width, dtype=torch.float32).repeat(height)
    landed = {(step.first_pivot + row, step.offset): step.x[row]
              for step in walk_chains(fwd, 2, forward=True) for row in range(step.x.shape[0])}
    raw = torch.stack([torch.stack((grid_x, landed.get((p, min(p + 2, n_frames - 1) - p), grid_x)), dim=1)
                       for p in range(n_frames)])  # n x N x 2
    low, high = raw.min(), raw.max()
    assert float(raw[:, :, 1].max()) > width - 1 or float(raw[:, :, 1].min()) < 0  # chains leave the grid
    torch.testing.assert_close(design[:, :, 20:22], (raw - low) / (high - low), rtol=0, atol=1e-6)
    row_of_pixel = (torch.arange(height * width) // width).float() / (height - 1)
    assert torch.equal(design[:, :, 22], row_of_pixel.expand(n_frames, -1))


# ---------------------------------------------------------------------------------------------
# keeping node features within a memory budget
# ---------------------------------------------------------------------------------------------
def test_kept_node_features_give_the_same_design_and_iterations(monkeypatch):
    """With blocks of 2 pivot frames, a budget of three blocks keeps exactly those three designs
    and a budget of all of them lets the flows go; every pass over the design, and the power
    iterations on it, are the same bit for bit as when the features are made again each time."""
    import graph_module.chains
    from graph_module.build import GraphBuilder
    from graph_module.features import feature_blocks

    n_frames, height, width = 11, 12, 16
    monkeypatch.setattr(graph_module.chains, 'CHUNK_ELEMENTS', 2 * height * width)
    fwd = random_flows(5, n_frames, height, width, quantum=None)
    bwd = random_flows(6, n_frames, height, width, quantum=None)
    block_bytes = 2 * (20 + 1) * height * width * 4
    results = {}
    for budget in (0, 3 * block_bytes + 1, 10 ** 9):
        builder = GraphBuilder(n_frames, height, width, 4.0, feature_blocks(5, -1), 'cpu', budget)
        builder.build(Flows.split(fwd), Flows.split(bwd))
        graph, features = builder.finish()
        del builder
        walked = features.memory_bytes()
        first, second = features.design(), features.design()
        assert torch.equal(first, second)
        inverses = ridge_inverses(features, 100.0)
        seed = seed_map(0, height, width, 0.5).reshape(1, -1).repeat(n_frames, 1)
        maps = power_iterations(graph, features, inverses, seed, 4).clone()
        results[budget] = (first, inverses, maps)
        if budget == 0:
            assert features.memory_bytes() == walked
        elif budget < 10 ** 9:
            assert features.memory_bytes() == walked + 3 * block_bytes
        else:
            assert features._flows is None
    base = results[0]
    for kept in results.values():
        assert all(torch.equal(a, b) for a, b in zip(base, kept))


def test_ops_on_one_thread_hands_the_threads_to_the_workers_and_back():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(RuntimeError):
            with ops_on_one_thread():
                assert torch.get_num_threads() == 1
                assert worker_threads('cpu') == 2
                with ops_on_one_thread():  # nested: still the outer count
                    assert worker_threads('cpu') == 2
                assert worker_threads('cpu') == 2
                raise RuntimeError('the threads come back even after an error')
        assert torch.get_num_threads() == 2
        assert worker_threads('cpu') == 2
        torch.set_num_threads(1)
        assert worker_threads('cpu') == 1  # outside, it follows torch again
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize('name', ['quantised', 'real'])
def test_propagation_in_segments_adds_in_the_same_order(name, monkeypatch):
    """Pivots taken a few frames at a time, with windows of block sums that slide along the video,
    give M x bit for bit (integer edges included: the quantised flows make many)."""
    n_pixels = {'quantised': 12 * 16, 'real': 14 * 18}[name]
    monkeypatch.setattr('graph_module.chains.CHUNK_ELEMENTS', 2 * n_pixels)  # blocks of 2 pivot frames
    graph, n_frames, _ = random_graph(name)
    assert len(graph.blocks) == n_frames // 2
    if name == 'quantised':
        assert graph.integer_edges
    x = torch.rand(n_frames, n_pixels, generator=torch.Generator().manual_seed(3))
    whole = graph.use_segments_of(n_frames).propagate(x, torch.empty_like(x))
    assert len(graph.segments()) == 1
    for frames in (2, 5, 16):
        segmented = graph.use_segments_of(frames).propagate(x, torch.empty_like(x))
        assert len(graph.segments()) == -(-n_frames // (frames - frames % 2))
        if frames + 2 * graph.max_offset < n_frames:  # the windows are shorter than the video
            assert graph._buffers[0].shape[0] < n_frames
        assert torch.equal(segmented, whole), frames
