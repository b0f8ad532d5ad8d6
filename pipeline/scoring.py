"""Scores of every stage of a run against ground truth, saved beside the run."""
import json
from pathlib import Path

from evaluation.davis import evaluate_sequence
from evaluation.scores import SequenceScores
from ike_utils.atomic import atomic_file
from pipeline.layout import stage_masks

SCORES_NAME = 'scores.json'


def stage_label(stage: str, cycle: int) -> str:
    return f'{stage} {cycle}'


def score_run(out_path, name: str, stages, annotation_dir, threshold: float = 0.5) -> dict:
    """{label: SequenceScores} for each (stage, cycle, folder) of a run, written to scores.json.
    The last stage is scored on what the run delivers, final/masks; the others on their soft maps."""
    scores = {}
    for position, (stage, cycle, _) in enumerate(stages):
        result_dir = stage_masks(out_path, 'final' if position == len(stages) - 1 else stage, cycle)
        scores[stage_label(stage, cycle)] = evaluate_sequence(result_dir, annotation_dir, threshold, name=name)
    with atomic_file(Path(out_path) / SCORES_NAME) as tmp:
        tmp.write_text(json.dumps({label: s.to_dict() for label, s in scores.items()}, indent=1) + '\n')
    return scores


def read_scores(out_path) -> dict:
    """The saved {label: SequenceScores} of a run, or {} if it has none."""
    try:
        data = json.loads((Path(out_path) / SCORES_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return {label: SequenceScores.from_dict(values) for label, values in data.items()}
