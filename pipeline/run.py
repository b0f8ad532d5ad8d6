"""What run_ike.py does: one video or a whole dataset, ending with where the results are."""
from pathlib import Path

from evaluation.datasets import DEFAULT_BENCHMARK, open_benchmark
from evaluation.datasets.tables import to_markdown
from evaluation.davis import annotation_files
from ike_utils.config import load_config
from ike_utils.device import resolve_device
from ike_utils.errors import InputError
from ike_utils.frames import list_frames
from pipeline.dataset import dataset_scores, parse_shard, run_dataset, shard
from pipeline.scoring import SCORES_NAME, davis_stage_scorer, score_run
from pipeline.video_file import OVERLAY_NAME, decode_video, write_overlay_video


def check_flow_weights(options) -> None:
    """With RAFT flow, the checkpoint must be usable before any work starts (InputError naming it)."""
    if options.flow_method == 'raft':
        from RAFT.checkpoint import check_checkpoint
        check_checkpoint(options.checkpoint, method_flag='--flow_method')


def print_scores(scores: dict) -> None:
    for label, record in scores.items():
        print(f'{label:>10}: J {record.J_mean:.3f}  F {record.F_mean:.3f}')


def run_one_video(frames_path, out_path, config_path, options, device='auto', annotations=None, quiet=False,
                  overlay_fps=None):
    """Run the loop on one video; with `annotations` (its ground-truth folder) score every stage;
    with `overlay_fps`, also write the overlay video final/overlay.mp4 at that frame rate. Whatever
    `quiet`, the last lines say where the results are, and the scores when there are some."""
    from pipeline.video import run_video
    config = load_config(config_path)
    if annotations is not None:  # checked against the frames before any work
        annotation_files(annotations, list_frames(frames_path, min_count=2))
    check_flow_weights(options)
    result = run_video(frames_path, out_path, config, options, resolve_device(device), quiet=quiet)
    scores = None
    if annotations is not None:
        scores = score_run(out_path, result['stages'], result['final'],
                           davis_stage_scorer(annotations, result['frames'], Path(frames_path).name, options.threshold))
        print(f'J and F mean of every stage (the last on the final masks), saved in {Path(out_path) / SCORES_NAME}:')
        print_scores(scores)
    if overlay_fps:
        overlay = write_overlay_video(frames_path, result['final'] / 'masks', result['final'] / OVERLAY_NAME,
                                      overlay_fps)
        print(f'overlay video: {overlay}')
    print(f'final masks: {result["final"] / "masks"}')
    return scores


def run_video_file(video_path, out_path, config_path, options, decode_options, device='auto', annotations=None,
                   quiet=False):
    """Decode a video file once into out_path/frames/, run the loop on it, and write the overlay video
    out_path/final/overlay.mp4 (as many frames as were segmented, at the source rate / stride)."""
    load_config(config_path)  # a bad config fails before the decoding
    check_flow_weights(options)
    frames_dir = Path(out_path) / 'frames'
    fps, _ = decode_video(video_path, frames_dir, decode_options, quiet=quiet)  # new frames redo every stage
    return run_one_video(frames_dir, out_path, config_path, options, device, annotations, quiet, overlay_fps=fps)


def run_many_videos(dataset_root, out_path, config_path, options, sequences=None, shard_spec=None,
                    workers=1, device='auto', quiet=False, dataset=DEFAULT_BENCHMARK, threads=1):
    """Run the loop on the videos of a benchmark dataset (`dataset`: a key of
    evaluation.datasets.BENCHMARKS), `workers` at a time with `threads` CPU threads each; writes
    out_path/report/ and ends by printing the mean scores of every stage and the report's path.
    Returns the names of the videos run."""
    config = load_config(config_path)  # a bad config fails here, once, not in every video
    if workers < 1:
        raise InputError(f'--workers {workers} is not valid; give at least 1 (videos processed at once)')
    benchmark = open_benchmark(dataset, dataset_root)
    chosen = benchmark.sequences(sequences)
    if shard_spec:
        index, count = parse_shard(shard_spec)
        chosen = shard(chosen, index, count)
        if not chosen:
            print(f'shard {shard_spec}: no video falls to this task (the dataset has fewer than {index} '
                  f'selected videos); nothing to do')
            return []
    names = [sequence.name for sequence in chosen]
    check_sequences(benchmark, chosen, config, options)
    check_flow_weights(options)
    device = str(resolve_device(device))
    failures = run_dataset(benchmark, out_path, config_path, options, chosen, device, workers, quiet, threads)
    for name, error in failures.items():
        print(f'failed: {name}: {error}')
    finished = [name for name in names if name not in failures]
    if finished:
        print(f'final masks: {Path(out_path) / "<video>" / "final" / "masks"} for {", ".join(finished)}')
    report = Path(out_path) / 'report' / 'report.md'
    if report.exists():
        _print_dataset_means(benchmark, out_path)
        print(f'report: {report}')
    if failures:
        raise InputError(f'{len(failures)} of {len(names)} videos failed (listed above); fix them and rerun: '
                         f'finished stages are kept')
    return names


def check_sequences(benchmark, sequences, config, options) -> None:
    """Every video's frames (and their number against the network batch) and ground truth, checked
    before any work: an InputError names the first video that does not fit."""
    from pipeline.video import check_video
    for sequence in sequences:
        frames = list(sequence.frames) or list_frames(sequence.frames_dir, min_count=2)  # a shot: its span
        check_video(frames, config, options)
        if benchmark.has_ground_truth(sequence):
            benchmark.check_ground_truth(sequence)


def _print_dataset_means(benchmark, out_path) -> None:
    """The benchmark's table in the paper's form (DAVIS: J and F per stage) over the scored videos."""
    by_stage = dataset_scores(benchmark, out_path)
    if by_stage:
        print(f'{benchmark.title}, {max(map(len, by_stage.values()))} scored videos:')
        print(to_markdown(*benchmark.paper_table(by_stage)))
