"""Per-sequence evaluation records, their dataset means, and how they are shown and saved
(text table, CSV, JSON)."""
import csv
import dataclasses
import json
from dataclasses import dataclass
from typing import List

import numpy as np

from ike_utils.atomic import atomic_file
from ike_utils.errors import InputError

STATISTICS = ('mean', 'recall', 'decay')
MEASURES = ('J', 'F')
COLUMNS = tuple(f'{measure}_{statistic}' for measure in MEASURES for statistic in STATISTICS)


@dataclass
class SequenceScores:
    """The DAVIS scores of one sequence: per evaluated frame, and their statistics."""
    name: str
    frames: List[str]                       # evaluated frame names (first and last are not)
    j_per_frame: List[float]
    f_per_frame: List[float]
    J_mean: float
    J_recall: float
    J_decay: float
    F_mean: float
    F_recall: float
    F_decay: float
    threshold: float = 0.5

    def statistics(self) -> dict:
        """{'J_mean': ..., ..., 'F_decay': ...}"""
        return {column: getattr(self, column) for column in COLUMNS}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> 'SequenceScores':
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


def dataset_means(records) -> dict:
    """The dataset figures: each statistic averaged over sequences (every sequence weighs the same)."""
    records = list(records)
    if not records:
        return {column: float('nan') for column in COLUMNS}
    return {column: float(np.mean([getattr(r, column) for r in records])) for column in COLUMNS}


def format_table(records, title: str = None) -> str:
    """A fixed-width text table: one row per sequence, then the mean over sequences."""
    records = list(records)
    name_width = max([len('sequence'), len('mean'), *(len(r.name) for r in records)])
    header = (f'{"sequence":<{name_width}}  {"frames":>6}  '
              + '  '.join(f'{column:>8}' for column in COLUMNS))
    lines = [title] if title else []
    lines += [header, '-' * len(header)]
    for r in records:
        lines.append(f'{r.name:<{name_width}}  {len(r.frames):>6}  '
                     + '  '.join(f'{value:>8.3f}' for value in r.statistics().values()))
    lines.append('-' * len(header))
    means = dataset_means(records)
    lines.append(f'{"mean":<{name_width}}  {sum(len(r.frames) for r in records):>6}  '
                 + '  '.join(f'{value:>8.3f}' for value in means.values()))
    return '\n'.join(lines)


def write_csv(path, records) -> None:
    """One row per sequence (name, evaluated frames, the six statistics), then a 'mean' row."""
    records = list(records)
    with atomic_file(path) as tmp:
        with open(tmp, 'w', newline='') as handle:
            writer = csv.writer(handle)
            writer.writerow(['sequence', 'frames', *COLUMNS])
            for r in records:
                writer.writerow([r.name, len(r.frames), *(f'{v:.6f}' for v in r.statistics().values())])
            writer.writerow(['mean', sum(len(r.frames) for r in records),
                             *(f'{v:.6f}' for v in dataset_means(records).values())])


def write_json(path, records, threshold: float = None) -> None:
    """Everything: per-sequence statistics and per-frame scores, the dataset means, the threshold."""
    records = list(records)
    payload = {
        'protocol': 'DAVIS-2016 (J, F: mean, recall, decay; first and last frames not evaluated)',
        'threshold': threshold,
        'mean': dataset_means(records),
        'sequences': [r.to_dict() for r in records],
    }
    with atomic_file(path) as tmp:
        with open(tmp, 'w') as handle:
            json.dump(payload, handle, indent=1)


def read_json(path) -> List[SequenceScores]:
    """The records of a JSON file written by `write_json`."""
    try:
        with open(path) as handle:
            payload = json.load(handle)
        return [SequenceScores.from_dict(item) for item in payload['sequences']]
    except FileNotFoundError:
        raise InputError(f'scores file {path} does not exist; run evaluate.py with --json {path}') from None
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f'scores file {path} is not a scores JSON written by evaluate.py ({error}); '
                         f'evaluate again') from None
