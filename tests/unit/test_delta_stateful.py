"""The equivalence proof: a live corpus, changed step by step, equals a cold load.

A hypothesis state machine applies random add / edit / break / fix / delete / rename /
duplicate-URL / stub-becomes-file / relink steps to a real folder holding a generated
corpus, and feeds each step through the real change path (``Corpus.refresh(paths)``,
as the watcher does; one machine through the real watchfiles watcher). After every
step the live graph is compared with a cold load of the folder (``build_graph`` of
every file read again): nodes and every attribute, edges and ranks, the alias index,
the load report and stats.

The one rule a cold load cannot see: a file that stops parsing keeps serving its last
good version (with a warning). The reference applies it from the test's own record of
each file's last good content.

Reproduce a failure: hypothesis prints the failing steps and a ``@reproduce_failure``
blob; ``pytest tests/unit/test_delta_stateful.py --hypothesis-seed=N`` replays a run (the seed
is printed by pytest's hypothesis plugin when a run fails). More steps:
``GRAPHSVC_STATEFUL_EXAMPLES=200``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from functools import cache
from pathlib import Path

import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from graphsvc.corpus import Corpus as LiveCorpus
from graphsvc.corpus import folder_corpus
from graphsvc.files import FolderRecords
from graphsvc.files.loader import list_files
from graphsvc.generate import generate, render
from graphsvc.graph.build import build_graph
from graphsvc.records.article import LoadIssue
from graphsvc.records.parse import parse_bytes

from ..graphcompare import assert_same

FILES = 60  # files in the starting corpus (the pool holds twice as many articles)
EXAMPLES = int(os.environ.get("GRAPHSVC_STATEFUL_EXAMPLES", "25"))
#: Shrinking a failure re-runs slow steps for minutes: on with GRAPHSVC_STATEFUL_SHRINK=1.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] + (
    [Phase.shrink] if os.environ.get("GRAPHSVC_STATEFUL_SHRINK") else []
)
STEPS = int(os.environ.get("GRAPHSVC_STATEFUL_STEPS", "50"))
BROKEN = b"---\ntitle: [unclosed\nwebUrl: https://broken.example/x\n---\n"


@cache
def pool(seed: int) -> tuple[tuple[str, bytes], ...]:
    """(relative path, bytes) of generated articles: the first FILES start the corpus."""
    return tuple((a.filename, render(a).encode()) for a in generate(FILES * 2, seed=seed))


_PARSED: dict[tuple[str, bytes], tuple] = {}


def _parse(rel: str, data: bytes) -> tuple:
    """parse_bytes, remembered (the reference reads every file at every step)."""
    got = _PARSED.get((rel, data))
    if got is None:
        if len(_PARSED) > 20_000:
            _PARSED.clear()
        got = _PARSED[(rel, data)] = parse_bytes(data, rel)
    return got


def reference(root: str, last_good: dict[str, bytes]):
    """A cold load of the folder, with the live rule for files that stopped parsing."""
    corpus = FolderRecords(root=root)
    paths = list_files(root)
    corpus.files = len(paths)
    for path in paths:
        rel = os.path.relpath(path, root)
        rec, issues = _parse(rel, Path(path).read_bytes())
        if rec is None and rel in last_good:
            rec, _ = _parse(rel, last_good[rel])
            note = "the file does not load; its last good version is served"
            issues = [*issues, LoadIssue(rel, None, note, "warning")]
        corpus.issues.extend(issues)
        if rec is not None:
            corpus.records.append(rec)
    return build_graph(corpus)


def front(data: bytes) -> tuple[dict, str]:
    _, fm, body = data.decode().split("---\n", 2)
    return yaml.safe_load(fm), body


def text(fm: dict, body: str = "") -> bytes:
    return (
        "---\n" + yaml.safe_dump(fm, sort_keys=False, allow_unicode=True) + "---\n" + body
    ).encode()


class LiveFolder(RuleBasedStateMachine):
    watch = False  # True: changes reach the corpus through the real watchfiles watcher

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="graphsvc-stateful-")
        self.root = os.path.join(self.tmp, "corpus")
        self.live: LiveCorpus | None = None
        self.last_good: dict[str, bytes] = {}
        self.counter = 0
        self.memo: dict = {}  # id -> (object, comparable value) for the live graph's objects

    # -- set-up ------------------------------------------------------------------------
    @precondition(lambda self: self.live is None)
    @rule(seed=st.integers(0, 3))
    def start(self, seed: int) -> None:
        self.pool = pool(seed)
        for rel, data in self.pool[:FILES]:
            self._write(rel, data)
        self.live = folder_corpus(self.root)
        self.version = self.live.graph.version
        if self.watch:
            self.live.start_watching(debounce_ms=50, step_ms=10)

    def teardown(self) -> None:
        if self.live is not None:
            self.live.stop_watching()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers -----------------------------------------------------------------------
    def _files(self) -> list[str]:
        return sorted(os.path.relpath(p, self.root) for p in list_files(self.root))

    def _write(self, rel: str, data: bytes) -> str:
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        rec, _ = parse_bytes(data, rel)
        if rec is not None:
            self.last_good[rel] = data
        return path

    def _new_name(self, hint: str = "new") -> str:
        self.counter += 1
        return f"zz/{hint}-{self.counter}.md" if self.counter % 2 else f"0-{hint}-{self.counter}.md"

    def _apply(self, *paths: str) -> None:
        if self.watch:
            return  # the invariant waits for the watcher
        self.live.refresh([os.path.join(self.root, p) for p in paths])

    def _pick(self, data) -> str | None:
        files = self._files()
        return data.draw(st.sampled_from(files)) if files else None

    def _front(self, rel: str | None) -> tuple[dict, str] | None:
        """The front matter and body of ``rel`` as it is now, if it parses."""
        if rel is None:
            return None
        data = Path(self.root, rel).read_bytes()
        if parse_bytes(data, rel)[0] is None:
            return None
        fm, body = front(data)
        return (fm, body) if isinstance(fm, dict) else None

    # -- steps -------------------------------------------------------------------------
    @precondition(lambda self: self.live is not None)
    @rule(data=st.data())
    def add(self, data) -> None:
        rel, content = data.draw(st.sampled_from(self.pool[FILES:]))
        rel = rel if not os.path.exists(os.path.join(self.root, rel)) else self._new_name()
        self._apply(os.path.relpath(self._write(rel, content), self.root))

    @precondition(lambda self: self.live is not None)
    @rule(data=st.data(), what=st.sampled_from(["title", "date", "topics", "provider"]))
    def edit(self, data, what: str) -> None:
        rel = self._pick(data)
        got = self._front(rel)
        if got is None:
            return
        fm, body = got
        self.counter += 1
        if what == "title":
            fm["title"] = f"Edited {self.counter}"
        elif what == "date":
            fm["publishedDateTime"] = data.draw(
                st.sampled_from(["2019-01-01T00:00:00Z", "2030-01-01T00:00:00Z", None])
            )
        elif what == "topics":
            fm["topics"] = data.draw(st.lists(st.sampled_from(["AI", "ai", "Robotics", "x"])))
        else:
            fm["provider"] = {
                "name": data.draw(st.sampled_from(["Spelled", "spelled", "Other"])),
                "domain": data.draw(st.sampled_from(["shared.example", "Shared.Example", ""])),
            }
        self._apply(os.path.relpath(self._write(rel, text(fm, body)), self.root))

    @precondition(lambda self: self.live is not None)
    @rule(data=st.data(), how=st.sampled_from(["self", "twice", "other", "drop"]))
    def relink(self, data, how: str) -> None:
        """Related lists: name itself, one article twice, another file, or fewer items."""
        rel = self._pick(data)
        got = self._front(rel)
        if got is None:
            return
        fm, body = got
        related = list(fm.get("related") or [])
        if how == "self":
            related.append({"webUrl": fm.get("webUrl") or fm.get("originalUrl"), "title": "me"})
        elif how == "twice" and related:
            related.append(dict(related[0]))
        elif how == "other":
            other = self._front(self._pick(data))
            if other is not None:
                ofm = other[0]
                related.insert(0, {k: ofm[k] for k in ("webUrl", "title") if k in ofm})
        else:
            related = related[1:]
        fm["related"] = related
        self._apply(os.path.relpath(self._write(rel, text(fm, body)), self.root))

    @precondition(lambda self: self.live is not None)
    @rule(data=st.data())
    def break_file(self, data) -> None:
        rel = self._pick(data)
        if rel is not None:
            self._write(rel, BROKEN)
            self._apply(rel)

    @precondition(lambda self: self.live is not None)
    @rule(data=st.data())
    def fix(self, data) -> None:
        broken = [f for f in self._files() if Path(self.root, f).read_bytes() == BROKEN]
        if broken:
            rel = data.draw(st.sampled_from(broken))
            fallback = self.pool[hash(rel) % len(self.pool)][1]
            self._write(rel, self.last_good.get(rel, fallback))
            self._apply(rel)

    @precondition(lambda self: self.live is not None)
    @rule(data=st.data())
    def delete(self, data) -> None:
        rel = self._pick(data)
        if rel is not None:
            os.remove(os.path.join(self.root, rel))
            self.last_good.pop(rel, None)
            self._apply(rel)

    @precondition(lambda self: self.live is not None)
    @rule(data=st.data())
    def rename(self, data) -> None:
        rel = self._pick(data)
        if rel is None:
            return
        new = self._new_name("moved")
        os.makedirs(os.path.dirname(os.path.join(self.root, new)), exist_ok=True)
        os.rename(os.path.join(self.root, rel), os.path.join(self.root, new))
        good = self.last_good.pop(rel, None)
        if good is not None and Path(self.root, new).read_bytes() == good:
            self.last_good[new] = good
        self._apply(rel, new)

    @precondition(lambda self: self.live is not None)
    @rule(data=st.data(), newer=st.booleans())
    def duplicate_url(self, data, newer: bool) -> None:
        """A second file for an article: newer wins, else the first path."""
        rel = self._pick(data)
        got = self._front(rel)
        if got is None:
            return
        fm, body = got
        fm["title"] = f"Copy of {fm.get('title')}"
        fm["publishedDateTime"] = "2031-01-01T00:00:00Z" if newer else "2001-01-01T00:00:00Z"
        new = self._new_name("dup")
        self._apply(os.path.relpath(self._write(new, text(fm, body)), self.root))

    @precondition(lambda self: self.live is not None)
    @rule(data=st.data())
    def stub_becomes_file(self, data) -> None:
        lg = self.live.graph
        stubs = sorted(k for k in lg.article_keys() if lg.data(k).is_stub)
        if not stubs:
            return
        a = lg.data(data.draw(st.sampled_from(stubs)))
        url = next(iter(a.urls.values()))
        fm = {"title": f"Now a file: {a.title}", "webUrl": url, "topics": ["AI"]}
        if a.provider is not None:
            fm["provider"] = {"name": a.provider.name, "domain": a.provider.domain}
        new = self._new_name("stub")
        self._apply(os.path.relpath(self._write(new, text(fm)), self.root))

    # -- the proof -----------------------------------------------------------------------
    @invariant()
    def equals_a_cold_load(self) -> None:
        if self.live is None:
            return
        want = reference(self.root, self.last_good)
        if not self.watch:
            assert_same(self.live.graph, want, memo=self.memo)
        else:
            deadline = time.monotonic() + 10
            while True:
                try:
                    assert_same(self.live.graph, want, memo=self.memo)
                    break
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        assert self.live.graph.version >= self.version
        self.version = self.live.graph.version


class WatchedFolder(LiveFolder):
    watch = True


TestLiveFolder = LiveFolder.TestCase
TestLiveFolder.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    print_blob=True,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TestWatchedFolder = WatchedFolder.TestCase
TestWatchedFolder.settings = settings(
    max_examples=int(os.environ.get("GRAPHSVC_STATEFUL_WATCH_EXAMPLES", "3")),
    stateful_step_count=15,
    deadline=None,
    print_blob=True,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
