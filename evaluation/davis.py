"""Evaluating folders of masks against DAVIS annotations, sequence by sequence.

Layout (as DAVIS): a root folder with one folder per sequence, holding one PNG per frame with
the same names in results and annotations (00000.png, 00001.png, ...). The first and the last
annotated frame are not evaluated, so results only need the frames in between.
"""
from pathlib import Path

import cv2
import numpy as np

from evaluation.metrics import BOUNDARY_TOLERANCE, boundary_f, jaccard, sequence_statistics
from evaluation.scores import SequenceScores
from ike_utils.errors import InputError
from ike_utils.frames import natural_key, read_frame_bgr
from ike_utils.progress import progress_bar

MASK_SUFFIX = '.png'
MIN_ANNOTATED_FRAMES = 3  # first and last are not evaluated, so at least one frame remains
_MAX_NAMES_IN_ERROR = 8


# -- reading masks ------------------------------------------------------------------------
def _read_grey(path: Path) -> np.ndarray:
    """The image as a 2-D array of its brightest channel (alpha dropped), uint8 or uint16."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f'mask {path} cannot be read as an image; replace it with a PNG mask')
    if image.ndim == 3:
        image = image[..., :3].max(axis=2)
    if image.dtype not in (np.uint8, np.uint16):
        raise InputError(f'mask {path} has {image.dtype} pixels; write masks as 8-bit PNG (0/255 or grey 0..255)')
    return image


def read_annotation(path) -> np.ndarray:
    """A DAVIS annotation as a boolean mask: every non-zero pixel is foreground (as the official
    code, which reads it as grey and casts to bool)."""
    return _read_grey(Path(path)) != 0


def read_result(path, threshold: float = 0.5) -> np.ndarray:
    """A binary (0/255) or soft (grey) result as a boolean mask: value / max_value >= threshold."""
    image = _read_grey(Path(path))
    max_value = np.iinfo(image.dtype).max
    if image.dtype == np.uint8:
        is_foreground = np.arange(256) / 255 >= threshold
        return is_foreground[image]
    return image / max_value >= threshold


# -- finding sequences and frames ---------------------------------------------------------
def list_sequence_folders(root) -> list:
    """Names of the sequence folders of `root`, sorted (hidden/temporary folders skipped)."""
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith('.'))


def _names_for_error(names) -> str:
    shown = ', '.join(names[:_MAX_NAMES_IN_ERROR])
    if len(names) > _MAX_NAMES_IN_ERROR:
        shown += f' (and {len(names) - _MAX_NAMES_IN_ERROR} more)'
    return shown


def evaluated_frame_pairs(result_dir, annotation_dir) -> list:
    """[(annotation file, result file)] for the evaluated frames: every annotated frame but the
    first and the last. Missing folders or result frames are an InputError that names them."""
    result_dir, annotation_dir = Path(result_dir), Path(annotation_dir)
    if not annotation_dir.is_dir():
        raise InputError(f'annotations folder {annotation_dir} does not exist; '
                         f'pass --annotations pointing at DAVIS Annotations/480p')
    annotations = sorted(p for p in annotation_dir.iterdir() if p.suffix.lower() == MASK_SUFFIX and p.is_file())
    if len(annotations) < MIN_ANNOTATED_FRAMES:
        raise InputError(f'annotations folder {annotation_dir} holds {len(annotations)} PNG mask(s); '
                         f'at least {MIN_ANNOTATED_FRAMES} are needed (first and last are not evaluated)')
    if not result_dir.is_dir():
        raise InputError(f'results folder {result_dir} does not exist; segment this sequence first '
                         f'or leave it out of --sequences')
    evaluated = annotations[1:-1]
    missing = [a.name for a in evaluated if not (result_dir / a.name).is_file()]
    if missing:
        raise InputError(f'results folder {result_dir} lacks {len(missing)} of the {len(evaluated)} evaluated '
                         f'frames: {_names_for_error(missing)}; write a mask for every frame')
    return [(a, result_dir / a.name) for a in evaluated]


def resolve_sequences(results_root, annotations_root, sequences=None) -> list:
    """The sequence names to evaluate: `sequences` if given (each must be annotated), else every
    sequence folder of the results root (each must be annotated)."""
    results_root, annotations_root = Path(results_root), Path(annotations_root)
    if not annotations_root.is_dir():
        raise InputError(f'annotations root {annotations_root} does not exist; '
                         f'pass the folder with one folder per sequence (DAVIS Annotations/480p)')
    annotated = list_sequence_folders(annotations_root)
    if not annotated:
        raise InputError(f'annotations root {annotations_root} holds no sequence folders; '
                         f'pass the folder with one folder per sequence (DAVIS Annotations/480p)')
    if not results_root.is_dir():
        raise InputError(f'results root {results_root} does not exist; pass the folder with one folder per sequence')
    if sequences:
        names = list(dict.fromkeys(sequences))
        unknown = [name for name in names if name not in annotated]
        if unknown:
            raise InputError(f'unknown sequence {unknown[0]!r}: not in annotations root {annotations_root}, '
                             f'which holds {_names_for_error(annotated)}')
        return names
    names = list_sequence_folders(results_root)
    if not names:
        raise InputError(f'results root {results_root} holds no sequence folders; '
                         f'pass the folder with one folder of masks per sequence')
    unknown = [name for name in names if name not in annotated]
    if unknown:
        raise InputError(f'results root {results_root} holds {unknown[0]!r}, which is not a sequence of '
                         f'annotations root {annotations_root}; choose sequences with --sequences')
    return names


def annotation_files(annotation_dir, frames) -> list:
    """The annotation PNGs of a video in natural order, each named after one of its frames (a
    mask for frame 12.jpg is 12.png); an InputError otherwise, before any work."""
    annotation_dir = Path(annotation_dir)
    if not annotation_dir.is_dir():
        raise InputError(f'annotations folder {annotation_dir} does not exist; pass the folder of this video\'s '
                         f'ground-truth PNGs or leave --annotations out')
    annotations = sorted((p for p in annotation_dir.iterdir() if p.suffix.lower() == '.png' and p.is_file()
                          and not p.name.startswith('.')), key=lambda p: natural_key(p.name))
    stems = {Path(frame).stem for frame in frames}
    strangers = [p.name for p in annotations if p.stem not in stems]
    what = None
    if strangers:
        what = f'{strangers[0]} matches no frame'
    elif len(annotations) < MIN_ANNOTATED_FRAMES:
        what = (f'it holds {len(annotations)} PNG mask(s), at least {MIN_ANNOTATED_FRAMES} are needed: the first '
                f'and last are not scored')
    else:
        mask_hw, frame_hw = read_annotation(annotations[0]).shape, read_frame_bgr(frames[0]).shape[:2]
        if mask_hw != frame_hw:
            what = (f'{annotations[0].name} is {mask_hw[1]}x{mask_hw[0]}, the frames '
                    f'{frame_hw[1]}x{frame_hw[0]}')
    if what:
        raise InputError(f'annotations folder {annotation_dir} does not fit the frames of this video ({what}); '
                         f'pass this video\'s ground truth, one PNG named like its frame (00000.jpg -> 00000.png)')
    return annotations


# -- evaluating ---------------------------------------------------------------------------
def score_frame(annotation: np.ndarray, result: np.ndarray, bound_th: float = BOUNDARY_TOLERANCE):
    """(J, F) of one frame."""
    return jaccard(annotation, result), boundary_f(annotation, result, bound_th)


def _score_pairs(name, pairs, threshold, bound_th, progress=None) -> SequenceScores:
    j_values, f_values = [], []
    for annotation_path, result_path in pairs:
        annotation = read_annotation(annotation_path)
        result = read_result(result_path, threshold)
        if annotation.shape != result.shape:
            raise InputError(f'result {result_path} is {result.shape[1]}x{result.shape[0]} but annotation '
                             f'{annotation_path} is {annotation.shape[1]}x{annotation.shape[0]}; '
                             f'write results at the annotation size')
        j, f = score_frame(annotation, result, bound_th)
        j_values.append(float(j))
        f_values.append(float(f))
        if progress is not None:
            progress.update(1)
    j_stats = sequence_statistics(j_values)
    f_stats = sequence_statistics(f_values)
    return SequenceScores(name=name, frames=[a.stem for a, _ in pairs], j_per_frame=j_values,
                          f_per_frame=f_values, J_mean=j_stats[0], J_recall=j_stats[1], J_decay=j_stats[2],
                          F_mean=f_stats[0], F_recall=f_stats[1], F_decay=f_stats[2], threshold=threshold)


def _check_threshold(threshold):
    if not 0 < threshold <= 1:
        raise InputError(f'threshold {threshold} is not valid; use a value in (0, 1], e.g. 0.5')


def evaluate_frame_pairs(name: str, pairs, threshold: float = 0.5,
                         bound_th: float = BOUNDARY_TOLERANCE) -> SequenceScores:
    """Scores of explicit (annotation file, result file) pairs of one sequence."""
    _check_threshold(threshold)
    missing = [str(result) for _, result in pairs if not Path(result).is_file()]
    if missing:
        raise InputError(f'result {missing[0]} is missing; write a mask for every frame')
    return _score_pairs(name, pairs, threshold, bound_th)


def evaluate_sequence(result_dir, annotation_dir, threshold: float = 0.5, name: str = None,
                      bound_th: float = BOUNDARY_TOLERANCE) -> SequenceScores:
    """Scores of one sequence: the masks of `result_dir` against the annotations of `annotation_dir`."""
    _check_threshold(threshold)
    pairs = evaluated_frame_pairs(result_dir, annotation_dir)
    return _score_pairs(name or Path(annotation_dir).name, pairs, threshold, bound_th)


def evaluate_sequences(results_root, annotations_root, sequences=None, threshold: float = 0.5,
                       quiet: bool = True, bound_th: float = BOUNDARY_TOLERANCE) -> list:
    """Scores of every sequence (list of SequenceScores, in the order asked).

    `sequences`: names to evaluate, or None for every sequence folder of the results root.
    All inputs are checked before any scoring, so bad input fails at once.
    """
    _check_threshold(threshold)
    names = resolve_sequences(results_root, annotations_root, sequences)
    return evaluate_folders({name: (Path(results_root) / name, Path(annotations_root) / name) for name in names},
                            threshold, quiet, bound_th)


def evaluate_folders(folders: dict, threshold: float = 0.5, quiet: bool = True,
                     bound_th: float = BOUNDARY_TOLERANCE) -> list:
    """Scores of every sequence of `folders`, name -> (result folder, annotation folder), in order.
    All folders are checked before any scoring, so bad input fails at once."""
    _check_threshold(threshold)
    plans = {name: evaluated_frame_pairs(result_dir, annotation_dir)
             for name, (result_dir, annotation_dir) in folders.items()}
    total = sum(len(pairs) for pairs in plans.values())
    with progress_bar(total=total, desc='evaluating', unit='frame', quiet=quiet) as progress:
        return [_score_pairs(name, pairs, threshold, bound_th, progress) for name, pairs in plans.items()]
