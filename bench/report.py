"""``python -m bench.report RUN.json...``: a Markdown section for bench/RESULTS.md."""

from __future__ import annotations

import json
import sys


def section(run: dict) -> str:
    m = run["machine"]
    out = [
        f"### `{run['command']}` — {run['size']} sizes, {run['date']}",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM, Python {m['python']}; "
        f"load average at start {m['loadavg at start']}.",
        "",
        "| id | size | figures | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in run["rows"]:
        figs = "<br>".join(f"{k}: {v}" for k, v in r["figures"].items())
        met = {True: "yes", False: "**no**", None: "-"}[r["met"]]
        ratio = r["ratio_text"] + (f"<br>*{r['note']}*" if r["note"] else "")
        out.append(f"| {r['id']} | {r['size']} | {figs} | {ratio} | {r['goal']} | {met} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path) as fh:
            print(section(json.load(fh)))
