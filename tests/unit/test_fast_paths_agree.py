"""Fast paths give exactly what the general code gives."""

import random
import re

from graphsvc.generate import generate
from graphsvc.graph import urls

EXTRA = [
    "https://a.b", "https://a.b/", "https://a.b//", "HTTPS://A.B/x/", "https://a.b:443/x/",
    "http://x.cdn.ampproject.org/c/s/y.com/p", "https://x.cdn.ampproject.org",
    "https://x.cdn.ampproject.org/", "https://x.cdn.ampproject.org/c/s/",
    "https://x.cdn.ampproject.org/v/y.com/a/", "https://x.cdn.ampproject.org/x/s/y.com",
    "https://x.cdn.ampproject.org/c/s/x.cdn.ampproject.org/c/s/z.com/q/",
    "https://ab.cdn.ampproject.orgx/p", "https://a.b/x;y", "https://a.b/x@y", "https://a.b/x\\y",
    "https://a.b/x/?utm_source=z&id=1", "https://a.b/x#frag", "https://u:p@a.b/x/",
]  # fmt: skip


def general(url: str) -> str:
    saved = urls._PLAIN
    urls._PLAIN = re.compile(r"(?!)")  # never matches: the general path only
    try:
        return urls.canonical_url(url)
    finally:
        urls._PLAIN = saved


def test_canonical_url_fast_path_agrees():
    cases = list(EXTRA)
    for a in generate(300, seed=2):
        cases += a.urls.values()
    rng = random.Random(0)
    for _ in range(5000):
        u = rng.choice(cases)
        i = rng.randrange(len(u) + 1)
        cases.append(u[:i] + rng.choice("/?#;@\\ :.-A%_sc") + u[i:])
    assert [u for u in cases if urls.canonical_url(u) != general(u)] == []
