"""A benchmark's table in the paper's form, as markdown and as CSV: a header and rows whose cells are
names or numbers (NaN where a stage has no score)."""
import csv
import math

from ike_utils.atomic import atomic_file

MISSING = '–'


def _cell(value, digits: int) -> str:
    if isinstance(value, float):
        return MISSING if math.isnan(value) else f'{value:.{digits}f}'
    return str(value)


def to_markdown(header, rows, digits: int = 3) -> str:
    """A markdown table; the first column is left-aligned, the others right-aligned."""
    lines = ['| ' + ' | '.join(map(str, header)) + ' |',
             '| ' + ' | '.join(['---'] + ['---:'] * (len(header) - 1)) + ' |']
    lines += ['| ' + ' | '.join(_cell(value, digits) for value in row) + ' |' for row in rows]
    return '\n'.join(lines)


def write_csv_table(path, header, rows) -> None:
    """The same table as CSV, numbers with 6 decimals, empty where there is no score."""
    with atomic_file(path) as tmp:
        with open(tmp, 'w', newline='') as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                writer.writerow(['' if isinstance(v, float) and math.isnan(v) else
                                 (f'{v:.6f}' if isinstance(v, float) else v) for v in row])
