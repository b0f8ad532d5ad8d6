"""IKE on one video: flow, then graph -> network -> graph ... cycles, then the final masks.

Layout of out_path: flow/, cycle_1/graph/, cycle_1/network/, cycle_2/graph/, ..., final/, and
scores.json when annotations are given. Every stage is skipped when its outputs are complete and
were made from the same inputs and settings (its record, stage.json, says so); a stage that runs
again makes every later stage run again.
"""
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from graph_module.run import run_graph_module
from graph_module.settings import GraphSettings
from ike_utils.atomic import atomic_file
from ike_utils.config import Config
from ike_utils.frames import frame_size, list_frames
from ike_utils.progress import Stage
from ike_utils.repo import DEFAULT_RAFT_CHECKPOINT
from network_module.settings import NetworkSettings
from network_module.train import DEFAULT_SEED, completed_results, run_network
from optical_flow.extract import extract_flows
from pipeline.final import write_final
from pipeline.provenance import write_run_record
from pipeline.records import clear_done, is_done, mark_done


@dataclass(frozen=True)
class LoopOptions:
    """How the loop runs (the math lives in the config)."""
    cycles: int = 3
    flow_method: str = 'raft'
    checkpoint: Optional[str] = str(DEFAULT_RAFT_CHECKPOINT)
    flow_iters: int = 20
    threshold: float = 0.5
    seed: Optional[int] = DEFAULT_SEED


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
    """Run the whole loop on one video; returns {'stages': [...], 'final': path, 'seconds': {...}}.
    Prints a line as each stage starts, ends or is skipped (unless quiet); `seconds` holds the
    stages that ran."""
    frames_path, out_path = Path(frames_path), Path(out_path)
    files = list_frames(frames_path, min_count=2)
    original_size = frame_size(files)
    network_settings = NetworkSettings.from_config(config)
    video = frames_path.name
    seconds = {}
    stages = []
    write_run_record(out_path, config, options)

    flow_dir = out_path / 'flow'
    stage = Stage(f'{video}: flow ({options.flow_method})', quiet)
    summary = extract_flows(frames_path, flow_dir, method=options.flow_method,
                            checkpoint=options.checkpoint if options.flow_method == 'raft' else None,
                            iters=options.flow_iters, device=device, quiet=quiet)
    changed = summary.computed > 0  # an upstream stage ran: every later stage runs again
    flow_seconds = stage.done(f'{summary.computed} pair(s) computed, {summary.skipped} done before')
    if changed:
        seconds['flow'] = flow_seconds
    flow_record = json.loads((flow_dir / 'flow_settings.json').read_text())

    features = ()
    for cycle in range(1, options.cycles + 1):
        settings = _graph_settings(config, features)
        graph_dir = cycle_dir(out_path, cycle) / 'graph'
        record = {'stage': 'graph', 'frames': str(frames_path.resolve()), 'flow': flow_record,
                  'settings': dataclasses.asdict(settings)}
        label = f'{video}: cycle {cycle} graph'
        if changed or not is_done(graph_dir, record):
            stage = Stage(label, quiet)
            clear_done(graph_dir)
            run_graph_module(frames_path, flow_dir, graph_dir, settings, device, quiet=quiet)
            mark_done(graph_dir, record)
            changed = True
            seconds[f'cycle_{cycle}/graph'] = stage.done()
        else:
            Stage.skipped(label, quiet)
        stages.append(('graph', cycle, graph_dir))
        soft_pt, soft_png = graph_result(graph_dir, settings)
        if cycle == options.cycles:
            break
        network_dir = cycle_dir(out_path, cycle) / 'network'
        label = f'{video}: cycle {cycle} network'
        folders = None if changed else completed_results(frames_path, soft_pt, network_dir, network_settings,
                                                         options.seed)
        if folders is None:
            stage = Stage(label, quiet)
            folders = run_network(frames_path, soft_pt, network_dir, network_settings, device, seed=options.seed,
                                  quiet=quiet, skip_if_done=False)
            changed = True
            seconds[f'cycle_{cycle}/network'] = stage.done()
        else:
            Stage.skipped(label, quiet)
        stages.append(('network', cycle, network_dir))
        features = (folders[-1],)

    final_dir = out_path / 'final'
    record = {'stage': 'final', 'from': str(soft_pt), 'threshold': options.threshold}
    if changed or not is_done(final_dir, record):
        write_final(soft_pt, soft_png, final_dir, original_size, options.threshold)
        mark_done(final_dir, record)
    _update_timings(out_path / 'timings.json', seconds)
    return {'stages': stages, 'final': final_dir, 'seconds': seconds}


def _update_timings(path: Path, seconds: dict) -> None:
    """timings.json: the seconds of the stages that ran now, and the earlier figures of the others
    (a rerun that skips a stage keeps the time it took)."""
    try:
        timings = json.loads(path.read_text())
    except (OSError, ValueError):
        timings = {}
    timings.update(seconds)
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(timings, indent=1) + '\n')
