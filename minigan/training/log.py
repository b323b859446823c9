"""log.jsonl: one JSON object per line, one line per training step, appended as the run goes.

Why JSON lines: a run that is killed halfway leaves every finished line readable (at worst the very last
line is cut short, and ``read_log`` drops it), any tool reads it (``jq``, pandas' ``read_json(lines=True)``,
a three-line Python loop), and adding a key later (a metric every N steps) breaks no reader.

A NaN or inf value is written as ``null``: JSON has no NaN, and strict readers reject Python's ``NaN``.

>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "log.jsonl"
>>> for step, loss in enumerate([0.69, 0.71, float("nan")]):
...     write_log_line(path, {"step": step, "d_loss": loss})
>>> path.read_text().splitlines()[-1]
'{"step": 2, "d_loss": null}'
>>> truncate_log(path, 2)                    # keep steps 0 and 1, e.g. before resuming at step 2
>>> [r["d_loss"] for r in read_log(path)]
[0.69, 0.71]
"""

import json
from pathlib import Path

from ..files import atomic_path
from ..serialization import StateFileError, finite_or_none


def encode(record):
    """One JSON line (no newline) for ``record``; non-finite floats become null."""
    return json.dumps(finite_or_none(record), allow_nan=False)


def write_log_line(path, record):
    """Append ``record`` as one line to ``path`` and flush it (the file is opened and closed each time)."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(encode(record) + "\n")
    except OSError as error:  # a full disk: say which file (the lines before this one are whole)
        raise OSError(error.errno, f"{path}: could not add the line of step {record.get('step')} "
                                   f"({error.strerror or error})") from None


def read_log(path):
    """The records of ``path`` as a list of dicts; [] if there is no file.

    A last line cut short by a crash is dropped; a damaged line elsewhere is an error naming the line.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines):
                break  # the line being written when the run was killed
            raise StateFileError(f"{path}, line {number}: not a JSON object ({error}): {line[:80]!r}") from None
    return records


def truncate_log(path, before_step):
    """Keep only the records with ``step < before_step`` (rewritten atomically); no file, nothing to do.

    A run resumed from a checkpoint at step s repeats the steps after s; their old lines must go, or the
    log would hold two versions of the same steps.
    """
    path = Path(path)
    if not path.exists():
        return
    kept = [record for record in read_log(path) if record.get("step", -1) < before_step]
    with atomic_path(path, suffix=".jsonl") as tmp:
        tmp.write_text("".join(encode(record) + "\n" for record in kept), encoding="utf-8")


def optimizer_fields(**optimizers):
    """The log fields of each optimizer's last step, under its name: ``<name>_lr``, the learning rate it
    used (Keras 2's decay), and ``<name>_clipped``, the fraction of gradient elements clipvalue clipped.

    >>> from minigan import optimizers
    >>> optimizer_fields(d=optimizers.Adam(0.0002))
    {'d_lr': None, 'd_clipped': None}
    """
    fields = {}
    for name, optimizer in optimizers.items():
        fields[f"{name}_lr"] = optimizer.last_learning_rate
        fields[f"{name}_clipped"] = optimizer.last_clipped_fraction
    return fields
