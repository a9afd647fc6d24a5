"""P1: cold load of N files into the graph, against PyYAML's C loader on the same front matter."""

from __future__ import annotations

import gc
import os
import resource
import time

import yaml

from graphsvc.files.loader import list_files
from graphsvc.records.parse import split_front_matter
from graphsvc.startup import load_graph

from .common import Row, corpus


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the parsing workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def yaml_baseline(paths: list[str]) -> tuple[float, float]:
    """Files per second, and per CPU second, for read + split + ``yaml.load(CSafeLoader)``."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    for p in paths:
        with open(p, "rb") as fh:
            text = fh.read().decode("utf-8")
        yaml.load(split_front_matter(text)[0], Loader=yaml.CSafeLoader)  # noqa: S506
    return len(paths) / (time.perf_counter() - t0), len(paths) / (cpu_seconds() - c0)


def run(files: int, baseline_sample: int) -> Row:
    folder = corpus(files)
    paths = list_files(folder)
    cores = min(2, os.cpu_count() or 1)
    sample = paths[:: max(1, len(paths) // baseline_sample)][:baseline_sample]
    base, base_cpu = yaml_baseline(sample)
    gc.collect()
    t0, c0 = time.perf_counter(), cpu_seconds()
    lg = load_graph(folder, cache=False, workers=cores).graph
    cold = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    s = lg.stats()
    del lg
    gc.collect()
    ours = files / cold
    ratio = ours / cores / base
    ratio_cpu = files / cpu / base_cpu
    row = Row(
        "P1",
        "cold load of files into the graph",
        f"{files} files, {s.articles} articles, {s.related_edges} related links",
        {
            "graphsvc": f"{cold:.2f} s = {ours:.0f} files/s on {cores} cores "
            f"({ours / cores:.0f} per core)",
            "baseline": f"{base:.0f} files/s, one core (read + yaml.CSafeLoader, "
            f"{len(sample)} files)",
            "per CPU second (robust to other load)": f"graphsvc {files / cpu:.0f} files, "
            f"baseline {base_cpu:.0f} files: {ratio_cpu:.2f}",
        },
        ratio,
        f"{ratio:.2f} of the baseline per core (wall clock); {ratio_cpu:.2f} per CPU second",
        ">= 0.8 of the baseline per core"
        + ("; <= 15 s for 100k files" if files >= 100_000 else ""),
        ratio >= 0.8 and (files < 100_000 or cold <= 15),
    )
    if files >= 100_000 and cold > 15:
        row.note = f"100k cold took {cold:.1f} s, {cold / 15:.1f}x the 15 s goal"
    return row
