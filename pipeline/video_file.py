"""A user's own video file: its frames decoded once into a folder (the run then resumes like any
other), and the overlay video of the final masks (each frame with its mask tinted and outlined)."""
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2

from evaluation.report import read_mask
from ike_utils.atomic import atomic_file
from ike_utils.disk import write_image_file
from ike_utils.errors import InputError
from ike_utils.frames import list_frames, read_frame_bgr
from ike_utils.images import overlay_mask
from ike_utils.progress import progress_bar
from ike_utils.stage import Stage, run_stage

FRAME_NAME = '%05d.jpg'
JPEG_QUALITY = 95
OVERLAY_NAME = 'overlay.mp4'
OVERLAY_CODEC = 'mp4v'
FOLDER_FPS = 25.0  # frame rate of the overlay video of a frames-folder run


@dataclass(frozen=True)
class DecodeOptions:
    """Which frames of the file become the video IKE segments."""
    max_frames: Optional[int] = None  # keep at most this many (after the stride)
    stride: int = 1                   # keep every stride-th frame
    max_side: Optional[int] = None    # shrink frames whose longer side is larger

    def check(self):
        if self.stride < 1:
            raise InputError(f'--stride {self.stride}: use 1 (every frame) or more')
        if self.max_frames is not None and self.max_frames < 2:
            raise InputError(f'--max_frames {self.max_frames}: IKE needs at least 2 frames')
        if self.max_side is not None and self.max_side < 16:
            raise InputError(f'--max_side {self.max_side}: use at least 16 pixels')


def _open(video_path: Path):
    if not video_path.is_file():
        raise InputError(f'video file {video_path} does not exist; pass a video file OpenCV can read (.mp4, .avi, ...)')
    # FFmpeg's own messages ("moov atom not found") would come on top of our one-line error
    os.environ.setdefault('OPENCV_FFMPEG_LOGLEVEL', '-8')
    capture = cv2.VideoCapture(str(video_path))
    if not capture.isOpened():
        raise InputError(f'video file {video_path} cannot be decoded by OpenCV; convert it (ffmpeg -i IN out.mp4) '
                         f'or pass a folder of frames with --frames_path')
    return capture


def _resized(frame, max_side):
    height, width = frame.shape[:2]
    if max_side is None or max(height, width) <= max_side:
        return frame
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def decode_video(video_path, frames_dir, options: DecodeOptions = DecodeOptions(), quiet=True):
    """Write the kept frames of `video_path` as frames_dir/%05d.jpg, unless a previous run already
    did with the same file and options (the stage contract, ike_utils.stage, decides). Returns
    (frame rate of the kept frames, whether it decoded)."""
    options.check()
    video_path, frames_dir = Path(video_path), Path(frames_dir)
    capture = _open(video_path)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or FOLDER_FPS
        stage = Stage('decode', frames_dir, inputs={'video': [video_path]},
                      settings={'max_frames': options.max_frames, 'stride': options.stride,
                                'max_side': options.max_side}, outputs=None)
        decoded = frames_dir.with_name(f'.{frames_dir.name}.tmp-{os.getpid()}')

        def decode():  # into a hidden sibling first: a file that gives too few frames leaves no trace
            shutil.rmtree(decoded, ignore_errors=True)
            decoded.mkdir(parents=True)
            kept, index = 0, 0
            with progress_bar(desc='decoding', unit='frame', quiet=quiet) as progress:
                while options.max_frames is None or kept < options.max_frames:
                    ok, frame = capture.read()
                    if not ok:
                        break
                    if index % options.stride == 0:
                        write_image_file(decoded / (FRAME_NAME % kept), _resized(frame, options.max_side),
                                         [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                        kept += 1
                        progress.update(1)
                    index += 1
            if kept < 2:
                shutil.rmtree(decoded, ignore_errors=True)
                raise InputError(f'video file {video_path} gave {kept} frame(s)'
                                 f'{" with --stride " + str(options.stride) if options.stride > 1 else ""}; '
                                 f'IKE needs at least 2 (is the file a video OpenCV can decode?)')

        def work(resume):
            names = sorted(p.name for p in decoded.iterdir())
            for name in names:
                os.replace(decoded / name, frames_dir / name)
            decoded.rmdir()
            stage.outputs = tuple(names)

        ran = run_stage(stage, work, prepare=decode, flag='--out_path')
    finally:
        capture.release()
    return fps / options.stride, ran


def write_overlay_video(frames_dir, masks_dir, path, fps: float) -> Path:
    """An mp4 with every frame of `frames_dir` and its mask (masks_dir/<frame name>.png) tinted and outlined,
    at `fps` frames per second; the same number of frames as the video."""
    frames = list_frames(frames_dir, min_count=1)
    masks = [Path(masks_dir) / f'{frame.stem}.png' for frame in frames]  # final masks are named like the frames
    missing = [m.name for m in masks if not m.is_file()]
    if missing:
        raise InputError(f'masks folder {masks_dir} lacks {len(missing)} of {len(frames)} masks '
                         f'(first: {missing[0]}); run the segmentation again')
    height, width = read_frame_bgr(frames[0]).shape[:2]
    with atomic_file(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*OVERLAY_CODEC), fps, (width, height))
        if not writer.isOpened():
            raise InputError(f'OpenCV cannot write {OVERLAY_CODEC} video {path}; install opencv-python-headless '
                             f'from PyPI (its FFmpeg writes mp4)')
        try:
            for frame_file, mask_file in zip(frames, masks):
                writer.write(overlay_mask(read_frame_bgr(frame_file), read_mask(mask_file, height, width) >= 0.5))
        finally:
            writer.release()
    return Path(path)
