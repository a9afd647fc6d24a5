"""Export a loaded corpus as front-matter files that load back into the same graph.

Every file that loaded is written to the same relative path, in the format graphsvc
writes (:mod:`graphsvc.files.write`): every field, unknown keys, values of the wrong
type (kept as written, so they are reported again), the body. Stubs are not files:
they live on as the related items that name them. Files that share an article are all
written, since each adds its URLs to the article. Files that did not load are not in
the graph and are not written. Nothing is written outside the output folder's real
path: a symlink found in it (planted while the export runs) is refused, not followed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .files import FolderRecords
from .files.fs import Unsafe
from .files.write import atomic_write, record_mapping, render
from .records import parse_bytes


@dataclass
class ExportReport:
    files: int = 0
    skipped: int = 0  # files of the corpus that did not load
    mismatches: list[str] = field(default_factory=list)  # written files that read back differently
    refused: list[str] = field(default_factory=list)  # "path: why" of files not written


def export_frontmatter(corpus: FolderRecords, dest: str | os.PathLike) -> ExportReport:
    """Write ``corpus`` below ``dest`` (created; must be empty: nothing is overwritten)."""
    dest = os.path.abspath(dest)
    os.makedirs(dest, exist_ok=True)
    with os.scandir(dest) as entries:
        if any(True for _ in entries):
            raise FileExistsError(f"{dest} is not empty; export writes to an empty folder")
    report = ExportReport(skipped=corpus.files - len(corpus.records))
    for rec in corpus.records:
        rel = rec.path
        assert rel is not None, "a file's record has its path"
        data = render(record_mapping(rec), rec.body).encode("utf-8")
        again, _ = parse_bytes(data, rel)
        if again != rec:
            report.mismatches.append(rel)
        # Only below dest's real path: a symlink planted in it meanwhile is refused,
        # never followed (graphsvc.files.fs); the other files are still written.
        path = os.path.join(dest, rel)
        try:
            atomic_write(path, data, sync=False, root=dest, create_dirs=True)
        except Unsafe as e:
            report.refused.append(f"{rel}: {e.strerror} ({e.filename})")
            continue
        report.files += 1
    os.sync()  # one flush for the whole export instead of two fsyncs per file
    return report
