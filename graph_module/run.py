"""Run the graph module on one video: read inputs, build the graph, iterate, save."""
import time
from pathlib import Path

from graph_module.build import GraphBuilder
from graph_module.chains import Flows
from graph_module.features import feature_blocks
from graph_module.inputs import check_flow_folder, load_cues, load_flows
from graph_module.outputs import save_iteration
from graph_module.pixel_features import compute_pixel_maps, motion_prior, pixel_feature_blocks
from graph_module.power_iteration import power_iterations
from graph_module.regression import ridge_inverses
from graph_module.seeds import seed_map
from graph_module.settings import GraphSettings
from graph_module.workers import ops_on_one_thread
from ike_utils.errors import InputError
from ike_utils.frames import frame_size, list_frames, load_frames
from ike_utils.guided_filter import refine_maps
from ike_utils.memory import release_free_memory
from ike_utils.progress import note, progress_bar

SETUP_STEPS = 3  # inputs, chains and features, regression


def blend_network_map(maps, network_map, weight: float):
    """IKE+ (`cue_blend`): (1 - weight) graph + weight network, both n x N in [0, 1]. The graph's map
    is a linear function of the node features, smoothed along the chains: the blend keeps some of
    the network's sharper, appearance-based answer in what the next network learns from."""
    return maps.mul(1 - weight).add_(network_map, alpha=weight)


def _sync(device):
    if device.type == 'cuda':
        import torch
        torch.cuda.synchronize(device)


def run_graph_module(frames_path, of_path, out_path, settings: GraphSettings, device, quiet=False):
    """Segment one video with the space-time graph; write out_path/iter_K and iter_K_images.

    Returns the time spent in each stage (seconds): load, build, regression_setup, iterations
    (a list, one per iteration) and save. On the CPU the work is split by the graph's own workers,
    each op on one thread (graph_module.workers)."""
    with ops_on_one_thread():
        return _segment(frames_path, of_path, out_path, settings, device, quiet)


def _segment(frames_path, of_path, out_path, settings, device, quiet):
    timings = {'iterations': [], 'save': 0.0}
    start = setup_began = time.perf_counter()
    frames = list_frames(frames_path, min_count=2)
    n_frames = len(frames)
    original_size = frame_size(frames)
    height, width = settings.working_h, settings.working_w
    of_path = Path(of_path)
    flow_folders = (of_path / 'fwd_of', of_path / 'bwd_of')
    for folder in flow_folders:  # fail early, before any work, if a flow file is missing or bad
        check_flow_folder(folder, n_frames)
    setup = progress_bar(total=SETUP_STEPS, desc='graph set-up', unit='step', quiet=quiet)

    def set_up(step):
        setup.update(1)
        note(f'graph set-up: {step} ({time.perf_counter() - setup_began:.1f} s)', quiet)

    cues = None
    if settings.features_paths:
        cues = load_cues(settings.features_paths, n_frames, height, width, device)
    _sync(device)
    timings['load'] = time.perf_counter() - start

    def save(iteration, maps):
        if iteration in settings.to_save_iterations:
            began = time.perf_counter()
            save_iteration(out_path, iteration, maps.view(n_frames, height, width), original_size)
            timings['save'] += time.perf_counter() - began

    began = time.perf_counter()
    fwd_flows, bwd_flows = (Flows.split(load_flows(folder, n_frames, height, width, device))
                            for folder in flow_folders)
    _sync(device)
    timings['load'] += time.perf_counter() - began
    set_up('inputs read')

    start = time.perf_counter()
    blocks = feature_blocks(settings.dir_half_chain, settings.cue_half_chain, cues)
    prior = None
    needed = set(settings.pixel_features) | ({'relative_motion'} if settings.motion_prior else set())
    if needed:  # IKE+
        pixels = load_frames(frames, height, width, rgb=True)[0] if 'colour' in needed else None
        pixel_maps = compute_pixel_maps(sorted(needed), fwd_flows, bwd_flows, pixels)
        blocks += pixel_feature_blocks(settings.pixel_features, pixel_maps)
        if settings.motion_prior:
            prior = motion_prior(pixel_maps['relative_motion'], settings.motion_prior)
        del pixels, pixel_maps
    network_map = None
    if settings.cue_blend and cues is not None:  # IKE+: the network's own map, blended into the output
        network_map = cues.mean(dim=1).reshape(n_frames, height * width)
    builder = GraphBuilder(n_frames, height, width, settings.sigma, blocks, device,
                           settings.feature_cache_mib * 2 ** 20)
    builder.build(fwd_flows, bwd_flows)
    graph, features = builder.finish()
    del cues, blocks, fwd_flows, bwd_flows, builder
    release_free_memory()
    _sync(device)
    set_up('chains walked, node features made')
    timings['build'] = time.perf_counter() - start
    seed = seed_map(settings.seed_type, height, width, settings.seed_sigma_percent).to(device)
    seed = seed.reshape(1, -1).repeat(n_frames, 1)
    save(-1, seed)  # only now: every input has been read without error

    start = time.perf_counter()
    inverses = ridge_inverses(features, settings.ridge_lambda)
    _sync(device)
    timings['regression_setup'] = time.perf_counter() - start
    set_up('regression ready')
    setup.close()

    progress = progress_bar(total=settings.n_iterations, desc='graph iterations', unit='it', quiet=quiet)
    last = [time.perf_counter()]

    def on_iteration(k, maps):
        _sync(device)
        now = time.perf_counter()
        timings['iterations'].append(now - last[0])
        if k < settings.n_iterations - 1:  # the last is saved once the graph is gone (less memory)
            save(k, maps)
        release_free_memory()  # the iteration's temporaries would otherwise pile up in the C heap
        progress.update(1)
        last[0] = time.perf_counter()

    maps = power_iterations(graph, features, inverses, seed, settings.n_iterations, on_iteration, prior=prior)
    progress.close()
    timings['graph_index_bytes'] = graph.memory_bytes()
    timings['feature_bytes'] = features.memory_bytes()
    del graph, features, inverses
    release_free_memory()
    if settings.guided_filter_radius:  # IKE+
        maps = refine_maps(frames, maps.view(n_frames, height, width), settings.guided_filter_radius,
                           settings.guided_filter_eps)
    if network_map is not None:
        maps = blend_network_map(maps.reshape(n_frames, -1), network_map, settings.cue_blend)
    save(settings.n_iterations - 1, maps)
    return timings
