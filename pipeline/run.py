"""What run_ike.py does: one video or a whole dataset."""
from pathlib import Path

from ike_utils.config import load_config
from ike_utils.device import resolve_device
from ike_utils.errors import InputError
from ike_utils.frames import list_frames
from pipeline.dataset import find_sequences, parse_shard, run_dataset, shard
from pipeline.scoring import annotation_files, score_run


def run_one_video(frames_path, out_path, config_path, options, device='auto', annotations=None, quiet=False):
    """Run the loop on one video; with `annotations` (its ground-truth folder) print and return scores."""
    from pipeline.video import run_video
    config = load_config(config_path)
    if annotations is not None:  # checked against the frames before any work
        annotation_files(annotations, list_frames(frames_path, min_count=2))
    result = run_video(frames_path, out_path, config, options, resolve_device(device), quiet=quiet)
    if not quiet:
        print(f'final masks: {result["final"] / "masks"}')
    if annotations is None:
        return None
    scores = score_run(out_path, Path(frames_path).name, result['stages'], annotations, result['frames'],
                       options.threshold)
    if not quiet:
        for label, record in scores.items():
            print(f'{label:>10}: J {record.J_mean:.3f}  F {record.F_mean:.3f}')
    return scores


def run_many_videos(dataset_root, out_path, config_path, options, sequences=None, shard_spec=None,
                    workers=1, device='auto', quiet=False):
    """Run the loop on the videos of a DAVIS-layout dataset; writes out_path/report/."""
    load_config(config_path)  # a bad config fails here, once, not in every video
    if workers < 1:
        raise InputError(f'--workers {workers} is not valid; give at least 1 (videos processed at once)')
    names = find_sequences(dataset_root, sequences)
    if shard_spec:
        index, count = parse_shard(shard_spec)
        names = shard(names, index, count)
        if not names:
            print(f'shard {shard_spec}: no video falls to this task (the dataset has fewer than {index} '
                  f'selected videos); nothing to do')
            return names
    device = str(resolve_device(device))
    failures = run_dataset(dataset_root, out_path, config_path, options, names, device, workers, quiet)
    report = Path(out_path) / 'report' / 'report.md'
    if not quiet and report.exists():
        print(report.read_text())
    for name, error in failures.items():
        print(f'failed: {name}: {error}')
    if failures:
        raise InputError(f'{len(failures)} of {len(names)} videos failed (listed above); fix them and rerun: '
                         f'finished stages are kept')
    return names
