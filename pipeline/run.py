"""What run_ike.py does: one video or a whole dataset, ending with where the results are."""
from pathlib import Path

from ike_utils.config import load_config
from ike_utils.device import resolve_device
from ike_utils.errors import InputError
from pipeline.dataset import dataset_scores, find_sequences, parse_shard, run_dataset, shard
from pipeline.scoring import SCORES_NAME, score_run


def check_flow_weights(options) -> None:
    """With RAFT flow, the checkpoint must be usable before any work starts (InputError naming it)."""
    if options.flow_method == 'raft':
        from RAFT.checkpoint import check_checkpoint
        check_checkpoint(options.checkpoint, method_flag='--flow_method')


def print_scores(scores: dict) -> None:
    for label, record in scores.items():
        print(f'{label:>10}: J {record.J_mean:.3f}  F {record.F_mean:.3f}')


def run_one_video(frames_path, out_path, config_path, options, device='auto', annotations=None, quiet=False):
    """Run the loop on one video; with `annotations` (its ground-truth folder) score every stage.
    Whatever `quiet`, the last lines say where the masks are, and the scores when there are some."""
    from pipeline.video import run_video
    config = load_config(config_path)
    if annotations is not None and not Path(annotations).is_dir():
        raise InputError(f'annotations folder {annotations} does not exist; pass the folder of this video\'s '
                         f'ground-truth PNGs or leave --annotations out')
    check_flow_weights(options)
    result = run_video(frames_path, out_path, config, options, resolve_device(device), quiet=quiet)
    scores = None
    if annotations is not None:
        scores = score_run(out_path, Path(frames_path).name, result['stages'], annotations, options.threshold)
        print(f'J and F mean of every stage (the last on the final masks), saved in {Path(out_path) / SCORES_NAME}:')
        print_scores(scores)
    print(f'final masks: {result["final"] / "masks"}')
    return scores


def run_many_videos(dataset_root, out_path, config_path, options, sequences=None, shard_spec=None,
                    workers=1, device='auto', quiet=False, threads=1):
    """Run the loop on the videos of a DAVIS-layout dataset; writes out_path/report/ and ends by
    printing its path and the mean scores of every stage."""
    load_config(config_path)  # a bad config fails here, once, not in every video
    names = find_sequences(dataset_root, sequences)
    if shard_spec:
        names = shard(names, *parse_shard(shard_spec))
    check_flow_weights(options)
    device = str(resolve_device(device))
    failures = run_dataset(dataset_root, out_path, config_path, options, names, device, workers, quiet, threads)
    for name, error in failures.items():
        print(f'failed: {name}: {error}')
    report = Path(out_path) / 'report' / 'report.md'
    finished = [name for name in names if name not in failures]
    if finished:
        print(f'final masks: {Path(out_path) / "<video>" / "final" / "masks"} for {", ".join(finished)}')
    if report.exists():
        _print_dataset_means(out_path)
        print(f'report: {report}')
    if failures:
        raise InputError(f'{len(failures)} of {len(names)} videos failed (listed above); fix them and rerun: '
                         f'finished stages are kept')
    return names


def _print_dataset_means(out_path) -> None:
    """J and F mean over the scored videos of out_path, per stage."""
    from evaluation.scores import dataset_means
    by_stage = dataset_scores(out_path)
    if by_stage:
        print(f'J and F mean over the {max(map(len, by_stage.values()))} scored videos:')
    for label, records in by_stage.items():
        means = dataset_means(records)
        print(f'{label:>10}: J {means["J_mean"]:.3f}  F {means["F_mean"]:.3f}')
