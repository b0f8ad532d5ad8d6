"""IKE on one video: flow, then graph -> network -> graph ... cycles, then the final masks.

Layout of out_path: flow/, cycle_1/graph/, cycle_1/network/, cycle_2/graph/, ..., final/, and
scores.json when annotations are given. Every stage is skipped when its outputs are complete and
were made from the same inputs and settings (its record, stage.json, says so); a stage that runs
again makes every later stage run again.
"""
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from graph_module.run import run_graph_module
from graph_module.settings import GraphSettings
from ike_utils.atomic import atomic_file
from ike_utils.config import Config
from ike_utils.frames import frame_size, list_frames
from network_module.settings import NetworkSettings
from network_module.train import run_network
from optical_flow.extract import extract_flows
from pipeline.final import write_final
from pipeline.records import clear_done, is_done, mark_done


@dataclass(frozen=True)
class LoopOptions:
    """How the loop runs (the math lives in the config)."""
    cycles: int = 3
    flow_method: str = 'raft'
    checkpoint: Optional[str] = 'RAFT/models/raft-things.pth'
    flow_iters: int = 20
    threshold: float = 0.5
    seed: Optional[int] = None


def cycle_dir(out_path, cycle: int) -> Path:
    return Path(out_path) / f'cycle_{cycle}'


def graph_result(graph_dir, settings: GraphSettings):
    """(soft .pt folder, soft PNG folder) of the graph's last iteration."""
    last = settings.n_iterations - 1
    return Path(graph_dir) / f'iter_{last}', Path(graph_dir) / f'iter_{last}_images'


def _graph_settings(config: Config, features_paths) -> GraphSettings:
    """The config's graph settings, always saving the last iteration (the network learns from it)."""
    settings = GraphSettings.from_config(config, features_paths=tuple(str(p) for p in features_paths))
    saved = set(settings.to_save_iterations) | {settings.n_iterations - 1}
    return dataclasses.replace(settings, to_save_iterations=tuple(sorted(saved)))


def run_video(frames_path, out_path, config: Config, options: LoopOptions, device, quiet=True):
    """Run the whole loop on one video; returns {'stages': [...], 'final': path, 'seconds': {...}}."""
    frames_path, out_path = Path(frames_path), Path(out_path)
    files = list_frames(frames_path, min_count=2)
    original_size = frame_size(files)
    network_settings = NetworkSettings.from_config(config)
    seconds = {}
    stages = []

    began = time.perf_counter()
    flow_dir = out_path / 'flow'
    summary = extract_flows(frames_path, flow_dir, method=options.flow_method,
                            checkpoint=options.checkpoint if options.flow_method == 'raft' else None,
                            iters=options.flow_iters, device=device, quiet=quiet)
    seconds['flow'] = time.perf_counter() - began
    changed = summary.computed > 0  # an upstream stage ran: every later stage runs again
    flow_record = json.loads((flow_dir / 'flow_settings.json').read_text())

    features = ()
    for cycle in range(1, options.cycles + 1):
        settings = _graph_settings(config, features)
        graph_dir = cycle_dir(out_path, cycle) / 'graph'
        record = {'stage': 'graph', 'frames': str(frames_path.resolve()), 'flow': flow_record,
                  'settings': dataclasses.asdict(settings)}
        began = time.perf_counter()
        if changed or not is_done(graph_dir, record):
            clear_done(graph_dir)
            run_graph_module(frames_path, flow_dir, graph_dir, settings, device, quiet=quiet)
            mark_done(graph_dir, record)
            changed = True
        seconds[f'cycle_{cycle}/graph'] = time.perf_counter() - began
        stages.append(('graph', cycle, graph_dir))
        soft_pt, soft_png = graph_result(graph_dir, settings)
        if cycle == options.cycles:
            break
        network_dir = cycle_dir(out_path, cycle) / 'network'
        began = time.perf_counter()
        folders = run_network(frames_path, soft_pt, network_dir, network_settings, device, seed=options.seed,
                              quiet=quiet, skip_if_done=not changed)
        seconds[f'cycle_{cycle}/network'] = time.perf_counter() - began
        stages.append(('network', cycle, network_dir))
        features = (folders[-1],)

    final_dir = out_path / 'final'
    record = {'stage': 'final', 'from': str(soft_pt), 'threshold': options.threshold}
    if changed or not is_done(final_dir, record):
        write_final(soft_pt, soft_png, final_dir, original_size, options.threshold)
        mark_done(final_dir, record)
    with atomic_file(out_path / 'timings.json') as tmp:
        tmp.write_text(json.dumps(seconds, indent=1) + '\n')
    return {'stages': stages, 'final': final_dir, 'seconds': seconds}


def stage_images(out_path, stage: str, cycle: int, config: Config):
    """The soft PNG folder (original size) of a stage's result, for evaluation."""
    if stage == 'graph':
        return graph_result(cycle_dir(out_path, cycle) / 'graph', _graph_settings(config, ()))[1]
    settings = NetworkSettings.from_config(config)
    return cycle_dir(out_path, cycle) / 'network' / 'results_images' / ('epoch_%05d' % settings.to_save_epochs[-1])
