"""What run_ike.py does: one video or a whole dataset."""
from pathlib import Path

from evaluation.datasets import DEFAULT_BENCHMARK, open_benchmark
from evaluation.davis import evaluate_sequence
from evaluation.scores import format_table
from ike_utils.config import load_config
from ike_utils.device import resolve_device
from ike_utils.errors import InputError
from pipeline.dataset import parse_shard, run_dataset, shard
from pipeline.scoring import score_run
from pipeline.video_file import OVERLAY_NAME, decode_video, forget_flow, write_overlay_video


def run_one_video(frames_path, out_path, config_path, options, device='auto', annotations=None, quiet=False,
                  overlay_fps=None):
    """Run the loop on one video; with `annotations` (its ground-truth folder) print and return scores;
    with `overlay_fps`, also write the overlay video final/overlay.mp4 at that frame rate."""
    from pipeline.video import run_video
    config = load_config(config_path)
    if annotations is not None and not Path(annotations).is_dir():
        raise InputError(f'annotations folder {annotations} does not exist; pass the folder of this video\'s '
                         f'ground-truth PNGs or leave --annotations out')
    result = run_video(frames_path, out_path, config, options, resolve_device(device), quiet=quiet)
    if not quiet:
        print(f'final masks: {result["final"] / "masks"}')
    if overlay_fps:
        overlay = write_overlay_video(frames_path, result['final'] / 'masks', result['final'] / OVERLAY_NAME,
                                      overlay_fps)
        if not quiet:
            print(f'overlay video: {overlay}')
    if annotations is None:
        return None
    name = Path(frames_path).name
    scores = score_run(out_path, result['stages'], config,
                       lambda result_dir: evaluate_sequence(result_dir, annotations, options.threshold, name=name))
    if not quiet:
        for label, record in scores.items():
            print(f'{label:>10}: J {record.J_mean:.3f}  F {record.F_mean:.3f}')
    return scores


def run_video_file(video_path, out_path, config_path, options, decode_options, device='auto', annotations=None,
                   quiet=False):
    """Decode a video file once into out_path/frames/, run the loop on it, and write the overlay video
    out_path/final/overlay.mp4 (as many frames as were segmented, at the source rate / stride)."""
    load_config(config_path)  # a bad config fails before the decoding
    frames_dir = Path(out_path) / 'frames'
    fps, decoded = decode_video(video_path, frames_dir, decode_options, quiet=quiet)
    if decoded:
        forget_flow(out_path)
    return run_one_video(frames_dir, out_path, config_path, options, device, annotations, quiet, overlay_fps=fps)


def run_many_videos(dataset_root, out_path, config_path, options, sequences=None, shard_spec=None,
                    workers=1, device='auto', quiet=False, dataset=DEFAULT_BENCHMARK):
    """Run the loop on the videos of a benchmark dataset (`dataset`: a key of
    evaluation.datasets.BENCHMARKS); writes out_path/report/. Returns the names of the videos run."""
    load_config(config_path)  # a bad config fails here, once, not in every video
    benchmark = open_benchmark(dataset, dataset_root)
    chosen = benchmark.sequences(sequences)
    if shard_spec:
        chosen = shard(chosen, *parse_shard(shard_spec))
    names = [sequence.name for sequence in chosen]
    device = str(resolve_device(device))
    failures = run_dataset(benchmark, out_path, config_path, options, chosen, device, workers, quiet)
    report = Path(out_path) / 'report' / 'report.md'
    if not quiet and report.exists():
        print(report.read_text())
    for name, error in failures.items():
        print(f'failed: {name}: {error}')
    if failures:
        raise InputError(f'{len(failures)} of {len(names)} videos failed (listed above); fix them and rerun: '
                         f'finished stages are kept')
    return names
