"""IKE, the whole loop: optical flow, then graph and network cycles, then the final masks.

    python run_ike.py --video clip.mp4 --out_path O [--max_frames N] [--stride K] [--max_side S] --flow_method dis
    python run_ike.py --frames_path F --out_path O [--config configs/cpu.ini] [--cycles 3] [--flow_method dis] [--save_video]
    python run_ike.py --dataset_root DAVIS --out_path O [--sequences a,b] [--shard 1/8] [--workers 2]
    python run_ike.py --dataset segtrackv2 --dataset_root SegTrackv2 --out_path O   # or youtube-objects

Run it from any folder: the project's own files (config.ini, configs/, RAFT/models/) are found in
the repository. A rerun skips every stage whose outputs are complete and redoes an interrupted one.
"""
from ike_utils.cli import (ArgumentParser, add_common_args, positive_int,  # first: threads before torch
                           run_cli, use_cpu_threads)
from evaluation.datasets import BENCHMARKS, DEFAULT_BENCHMARK  # noqa: I100 (after ike_utils.cli)
from ike_utils.repo import DEFAULT_CONFIG, DEFAULT_RAFT_CHECKPOINT, project_path, shown
from pipeline.run import run_many_videos, run_one_video, run_video_file
from pipeline.video import DEFAULT_SEED, LoopOptions
from pipeline.video_file import FOLDER_FPS, DecodeOptions


def main(args):
    threads = use_cpu_threads(args, args.workers if args.dataset_root else 1)
    options = LoopOptions(cycles=args.cycles, flow_method=args.flow_method, checkpoint=str(project_path(args.models)),
                          flow_iters=args.iters, threshold=args.threshold, seed=args.seed)
    if args.dataset_root:
        run_many_videos(args.dataset_root, args.out_path, args.config, options,
                        args.sequences.split(',') if args.sequences else None, args.shard, args.workers,
                        args.device, args.quiet, args.dataset, threads)
    elif args.video:
        run_video_file(args.video, args.out_path, args.config, options,
                       DecodeOptions(args.max_frames, args.stride, args.max_side), args.device, args.annotations,
                       args.quiet)
    else:
        run_one_video(args.frames_path, args.out_path, args.config, options, args.device, args.annotations,
                      args.quiet, overlay_fps=FOLDER_FPS if args.save_video else None)


if __name__ == '__main__':
    parser = ArgumentParser(description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--video', help='one video file (anything OpenCV reads: .mp4, .avi, ...), decoded '
                                        'once into OUT/frames/; writes OUT/final/overlay.mp4')
    source.add_argument('--frames_path', help='one video: a folder of frames')
    source.add_argument('--dataset_root', help='many videos: the root of a benchmark release (see --dataset)')
    parser.add_argument('--out_path', required=True, help='where everything is written')
    parser.add_argument('--config', '--config_file', dest='config', default=str(DEFAULT_CONFIG),
                        help='settings file (default: config.ini of the repository, the paper\'s settings; '
                             'configs/cpu.ini for machines without a GPU)')
    parser.add_argument('--cycles', type=positive_int, default=3,
                        help='graph passes; a network pass sits between two (default: 3)')
    parser.add_argument('--flow_method', default='raft', choices=['raft', 'dis', 'farneback'],
                        help='raft (the paper; needs --models) or an OpenCV method needing no weights (default: raft)')
    parser.add_argument('--models', default=str(DEFAULT_RAFT_CHECKPOINT),
                        help=f'RAFT checkpoint (default: {shown(DEFAULT_RAFT_CHECKPOINT)} of the repository)')
    parser.add_argument('--iters', type=int, default=20, help='RAFT refinement iterations (default: 20)')
    parser.add_argument('--threshold', type=float, default=0.5,
                        help='final masks: foreground where the soft map >= threshold (default: 0.5)')
    parser.add_argument('--seed', type=int, default=DEFAULT_SEED,
                        help=f'network seed: initial weights and batch order (default: {DEFAULT_SEED})')
    parser.add_argument('--max_frames', type=int, help='--video: keep at most this many frames (after --stride)')
    parser.add_argument('--stride', type=int, default=1, help='--video: keep every K-th frame (default 1)')
    parser.add_argument('--max_side', type=int, help='--video: shrink frames whose longer side is above S pixels')
    parser.add_argument('--save_video', action='store_true',
                        help=f'--frames_path: also write OUT/final/overlay.mp4 ({FOLDER_FPS:g} frames per second)')
    parser.add_argument('--annotations', help='one video: its ground-truth masks, to print J and F')
    parser.add_argument('--dataset', default=DEFAULT_BENCHMARK, choices=list(BENCHMARKS),
                        help='dataset: the layout and protocol of --dataset_root (default: davis2016)')
    parser.add_argument('--sequences', help='dataset: comma-separated video names (default: all)')
    parser.add_argument('--shard', help='dataset: i/n, this task\'s share of the videos (1 <= i <= n)')
    parser.add_argument('--workers', type=positive_int, default=1,
                        help='dataset: videos processed at once, each with its share of the threads (default: 1)')
    add_common_args(parser)
    run_cli(main, parser.parse_args())
