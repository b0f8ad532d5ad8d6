"""A tiny loop configuration shared by the pipeline and fault tests."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY = (('working_h', '32'), ('working_w', '48'), ('n_iterations', '10'), ('to_save_iterations', '-1, 9'),
        ('n_epochs', '2'), ('to_save_epochs', '2'), ('base_channels', '4'), ('batch_size', '2'))


def tiny_config(path):
    """The paper's config at 32x48, 10 iterations, a 4-wide network trained 2 epochs, written to `path`."""
    text = (REPO / 'config.ini').read_text()
    for key, value in TINY:
        text = '\n'.join(f'{key} = {value}' if line.split('=')[0].strip() == key else line
                         for line in text.splitlines())
    path.write_text(text + '\n')
    return path
