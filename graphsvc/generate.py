"""A realistic synthetic corpus, for benchmarks and tests: ``graphsvc generate``.

Everything is drawn from one seeded :class:`random.Random`, so the same
``(articles, seed)`` always gives the same bytes. The shape follows the real corpora:

* providers with Zipf-like sizes (a few big sites, a long tail of small ones);
* 1-4 topics per article out of a few dozen;
* 0-6 related items per file, pointing mostly to articles of nearby dates and of the
  same provider; about 30% of related items name an article that has no file of its
  own (a stub), and a stub is often named by several files;
* all four URL kinds: ``webUrl``, ``originalUrl`` (sometimes with tracking parameters
  or a trailing-slash difference), ``ampWebUrl`` and ``cdnAmpWebUrl`` in the AMP-cache
  form ``https://www-example-com.cdn.ampproject.org/c/s/www.example.com/amp/path``;
  related items name their target by any of those;
* some mojibake (``weâ€™ve``) and HTML entities (``&amp;``, ``&#038;``) in titles and
  excerpts, which loading repairs.

This module knows nothing of the graph layer: it writes files (:func:`write_corpus`)
or builds the same articles as records in memory (:func:`generate_records`).

>>> a = list(generate(3, seed=7)); b = list(generate(3, seed=7))
>>> [render(x) for x in a] == [render(x) for x in b]
True
"""

from __future__ import annotations

import base64
import bisect
import itertools
import math
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

TOPICS = (
    "AI", "Machine Learning", "Computer Vision", "Natural Language Processing",
    "Generative AI", "AI Ethics", "Robotics", "Power Apps", "Power Automate",
    "Power BI", "Canvas apps", "Model-driven apps", "Portals", "AI Builder",
    "Teams integration", "Dataverse", "Azure", "AWS AI", "Google Cloud",
    "Microsoft AI", "Cloud Security", "Cybersecurity", "Privacy", "Biometrics",
    "Autonomous Vehicles", "Healthcare AI", "Fintech", "Quantum Computing",
    "Edge Computing", "Open Source", "Startups", "Regulation", "Chips",
    "Data Engineering", "Low-code", "Developer Tools",
)  # fmt: skip

_SYLLABLES = (
    "tech", "byte", "data", "net", "cloud", "wire", "daily", "news", "post", "zine",
    "hub", "lab", "works", "insider", "times", "review", "central", "portal", "radar",
    "pulse", "geek", "logic", "stack", "signal", "beat", "update", "world", "digital",
)  # fmt: skip
_TLDS = ("com", "com", "com", "net", "org", "io", "co.uk", "eu", "ai")
_WORDS = (
    "microsoft", "launches", "new", "ai", "model", "cloud", "platform", "data", "security",
    "startup", "raises", "funding", "developers", "tools", "power", "apps", "automation",
    "enterprise", "customers", "release", "preview", "update", "research", "vision",
    "language", "chips", "regulators", "privacy", "open", "source", "agents", "copilot",
    "search", "robots", "health", "banks", "google", "amazon", "meta", "apple", "nvidia",
    "europe", "rules", "study", "finds", "users", "teams", "builder", "portal", "wave",
    "generative", "training", "inference", "edge", "quantum", "faster", "cheaper", "why",
    "how", "what", "the", "future", "of", "for", "with", "and", "in", "to", "a",
)  # fmt: skip
# Phrases that, written as UTF-8 and read back as cp1252, give the usual mojibake.
_FANCY = ("we’ve", "it’s", "‘smart’", "café", "naïve", "— and", "don’t", "résumé")
_ENTITIES = ("&amp;", "&#038;", "&quot;", "&#8217;", "&lt;b&gt;", "&nbsp;")

START = datetime(2019, 1, 1, tzinfo=UTC)
SPAN_DAYS = 6 * 365
STUB_SHARE = 0.30  # of related items
RELATED_MAX = 6


@dataclass(slots=True)
class GenProvider:
    name: str
    domain: str  # as written in provider.domain (no www.)
    host: str  # host of its URLs
    amp: bool  # publishes AMP pages
    logo: bool


@dataclass(slots=True, eq=False)
class GenArticle:
    """One generated article (with a file, or a stub named only in related lists)."""

    index: int
    provider: GenProvider
    published_at: datetime
    slug: str
    title: str
    excerpt: str
    topics: list[str]
    quality: int
    heat: int
    urls: dict[str, str]
    image: tuple[str, int, int] | None
    secured: str
    body: str | None = None
    related: list[tuple[GenArticle, tuple[str, ...]]] = field(default_factory=list)
    is_stub: bool = False

    @property
    def filename(self) -> str:
        d = self.published_at
        return f"{d:%Y}/{d:%m}/{d:%Y-%m-%d}-{self.slug}.md"


def _mojibake(s: str) -> str:
    return s.encode("utf-8").decode("cp1252")


class _Gen:
    def __init__(self, articles: int, seed: int, related_max: int, stub_share: float):
        self.rng = random.Random(seed)
        self.n = articles
        self.related_max = related_max
        self.stub_share = stub_share
        rng = self.rng
        # Providers: about sqrt(n) of them (at least 3), Zipf-like weights 1/rank^1.1.
        count = max(3, min(5000, int(math.sqrt(articles) * 1.5)))
        seen: set[str] = set()
        self.providers: list[GenProvider] = []
        while len(self.providers) < count:
            k = 2 if len(self.providers) < 200 else 3
            stem = "".join(rng.choice(_SYLLABLES) for _ in range(k))
            if len(self.providers) >= 400:
                stem += str(len(self.providers))
            domain = f"{stem}.{rng.choice(_TLDS)}"
            if domain in seen:
                continue
            seen.add(domain)
            name = " ".join(w.capitalize() for w in _split_stem(stem))
            host = ("www." if rng.random() < 0.7 else "") + domain
            self.providers.append(
                GenProvider(name, domain, host, amp=rng.random() < 0.5, logo=rng.random() < 0.3)
            )
        weights = [1 / (r + 1) ** 1.1 for r in range(count)]
        self.cum = list(itertools.accumulate(weights))
        self.topic_cum = list(itertools.accumulate(1 / (r + 1) ** 0.8 for r in range(len(TOPICS))))
        self.serial = 0

    def provider(self) -> GenProvider:
        return self.providers[bisect.bisect(self.cum, self.rng.random() * self.cum[-1])]

    def text(self, words: int, fancy: float) -> str:
        rng = self.rng
        out = [rng.choice(_WORDS) for _ in range(words)]
        if rng.random() < fancy:
            out.insert(rng.randrange(len(out) + 1), rng.choice(_FANCY))
        if rng.random() < fancy:
            out.insert(rng.randrange(len(out) + 1), rng.choice(_ENTITIES))
        s = " ".join(out)
        return s[:1].upper() + s[1:]

    def article(self, when: datetime, provider: GenProvider | None = None) -> GenArticle:
        rng = self.rng
        p = provider or self.provider()
        self.serial += 1
        title = self.text(rng.randint(4, 11), 0.15)
        slug_words = [w for w in title.lower().split() if w.isalnum()][:8] or ["post"]
        slug = "-".join(slug_words) + f"-{self.serial}"
        path = f"/{when:%Y/%m}/{slug}/"
        web = f"https://{p.host}{path}"
        urls = {"webUrl": web}
        r = rng.random()
        if r < 0.55:
            urls["originalUrl"] = web
        elif r < 0.65:
            urls["originalUrl"] = web + "?utm_source=feed&utm_medium=rss"
        elif r < 0.70:
            urls["originalUrl"] = web.rstrip("/")
        if p.amp:
            amp_path = f"/amp{path}"
            urls["ampWebUrl"] = f"https://{p.host}{amp_path}"
            cdn_host = p.host.replace("-", "--").replace(".", "-")
            urls["cdnAmpWebUrl"] = f"https://{cdn_host}.cdn.ampproject.org/c/s/{p.host}{amp_path}"
        excerpt = self.text(rng.randint(15, 40), 0.25)
        if rng.random() < 0.15:  # mojibake, as feeds deliver it
            excerpt = _mojibake(excerpt)
        ntopics = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
        topics: list[str] = []
        while len(topics) < ntopics:
            t = TOPICS[bisect.bisect(self.topic_cum, rng.random() * self.topic_cum[-1])]
            if t not in topics:
                topics.append(t)
        image = None
        if rng.random() < 0.8:
            image = (
                f"https://cdn.{p.domain}/images/{slug}.jpg",
                rng.choice((800, 1024, 1200, 1600)),
                rng.choice((450, 533, 600, 675, 900)),
            )
        return GenArticle(
            index=-1,
            provider=p,
            published_at=when,
            slug=slug,
            title=title,
            excerpt=excerpt,
            topics=topics,
            quality=rng.randint(10, 90),
            heat=rng.choice((-1, -1, rng.randint(0, 100))),
            urls=urls,
            image=image,
            secured=base64.b64encode(rng.randbytes(rng.randint(200, 400))).decode(),
        )


def _split_stem(stem: str) -> list[str]:
    out, rest = [], stem.rstrip("0123456789")
    while rest:
        for s in sorted(_SYLLABLES, key=len, reverse=True):
            if rest.startswith(s):
                out.append(s)
                rest = rest[len(s) :]
                break
        else:
            out.append(rest)
            break
    return out


def generate(
    articles: int,
    seed: int = 0,
    *,
    related_max: int = RELATED_MAX,
    stub_share: float = STUB_SHARE,
    stub_reuse: float = 3.0,
) -> Iterator[GenArticle]:
    """The ``articles`` articles that have files, oldest first, each with its related items.

    Stubs appear only as related targets (``is_stub``); each is named by about
    ``stub_reuse`` items. ``related_max`` (default 6), ``stub_share`` (default 0.3) and
    ``stub_reuse`` let benchmarks make denser graphs.
    """
    g = _Gen(articles, seed, related_max, stub_share)
    rng = g.rng
    step = SPAN_DAYS * 86400 / max(1, articles)
    docs: list[GenArticle] = []
    by_provider: dict[int, list[int]] = {}  # id(provider) -> indices into docs
    pos_in_provider: list[int] = []
    for i in range(articles):
        when = START + timedelta(seconds=int(i * step + rng.random() * step))
        a = g.article(when)
        a.index = i
        if rng.random() < 0.3:
            a.body = "\n".join(g.text(rng.randint(20, 60), 0.1) for _ in range(rng.randint(1, 3)))
        docs.append(a)
        lst = by_provider.setdefault(id(a.provider), [])
        pos_in_provider.append(len(lst))
        lst.append(i)
    # Stubs: a pool about a third as large as the number of stub items, dated like
    # the files, so popular outside articles are named by several files.
    stub_pool: list[GenArticle] = []
    expected_items = articles * related_max / 2 * stub_share
    pool_size = max(1, int(expected_items / stub_reuse))
    stub_step = SPAN_DAYS * 86400 / pool_size
    for j in range(pool_size):
        when = START + timedelta(seconds=int(j * stub_step + rng.random() * stub_step))
        s = g.article(when)
        s.is_stub = True
        s.index = -1 - j
        stub_pool.append(s)

    def near(n: int, centre: int, spread: float) -> int:
        off = int(rng.expovariate(1 / spread)) + 1
        j = centre + (off if rng.random() < 0.5 else -off)
        return min(n - 1, max(0, j))

    for i, a in enumerate(docs):
        k = rng.randint(0, related_max)
        chosen: list[GenArticle] = []
        for _ in range(k):
            r = rng.random()
            if r < stub_share:
                centre = int(i / max(1, articles) * pool_size)
                t = stub_pool[near(pool_size, centre, 3)]
            elif r < stub_share + (1 - stub_share) * 0.7 and len(by_provider[id(a.provider)]) > 1:
                same = by_provider[id(a.provider)]
                t = docs[same[near(len(same), pos_in_provider[i], 4)]]
            else:
                t = docs[near(articles, i, 30)]
            if t is a or t in chosen:
                continue
            chosen.append(t)
        for t in chosen:
            # Which of the target's URLs the item gives: mostly all of them, some only
            # the AMP ones (found through the AMP-cache alias).
            kinds = tuple(t.urls)
            if "ampWebUrl" in t.urls and rng.random() < 0.15:
                kinds = ("ampWebUrl", "cdnAmpWebUrl") if rng.random() < 0.5 else ("cdnAmpWebUrl",)
            a.related.append((t, kinds))
        yield a


# -- rendering ---------------------------------------------------------------------------
def _q(s: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _when(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def render(a: GenArticle) -> str:
    """The file text of one article, in the corpus format."""
    p = a.provider
    out = ["---", "category: news", f"title: {_q(a.title)}", f"excerpt: {_q(a.excerpt)}"]
    out.append(f"publishedDateTime: {_when(a.published_at)}")
    for k in ("originalUrl", "webUrl", "ampWebUrl", "cdnAmpWebUrl"):
        if k in a.urls:
            out.append(f"{k}: {_q(a.urls[k])}")
    out += ["type: article", f"quality: {a.quality}", f"heat: {a.heat}", "published: true", ""]
    out += ["provider:", f"  name: {p.name}", f"  domain: {p.domain}"]
    if p.logo:
        out += [
            "  images:",
            f'    - url: "https://logos.example.net/{p.domain}-50x50.jpg"',
            "      width: 50",
            "      height: 50",
        ]
    out += ["", "topics:"] + [f"  - {t}" for t in a.topics]
    if a.image:
        u, w, h = a.image
        out += ["", "images:", f"  - url: {_q(u)}", f"    width: {w}", f"    height: {h}"]
        out.append("    isCached: true")
    if a.related:
        out += ["", "related:"]
        for t, kinds in a.related:
            out.append(f"  - title: {_q(t.title)}")
            out.append(f"    excerpt: {_q(t.excerpt)}")
            out.append(f"    publishedDateTime: {_when(t.published_at)}")
            for k in kinds:
                out.append(f"    {k}: {_q(t.urls[k])}")
            out += ["    type: article", "    provider:"]
            out += [f"      name: {t.provider.name}", f"      domain: {t.provider.domain}"]
            out.append(f"    quality: {t.quality}")
            if t.image:
                u, w, h = t.image
                out += ["    images:", f"      - url: {_q(u)}", f"        width: {w}"]
                out += [f"        height: {h}", "        isCached: true"]
    out += ["", f"secured: {_q(a.secured)}", "---", ""]
    text = "\n".join(out)
    if a.body:
        text += a.body + "\n"
    return text


def write_corpus(
    out: str | os.PathLike,
    articles: int,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    **kw,
) -> int:
    """Write ``articles`` files below ``out`` (``YYYY/MM/YYYY-MM-DD-slug.md``); returns bytes."""
    from .files import fs

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    total = 0
    for a in generate(articles, seed, **kw):
        data = render(a).encode("utf-8")
        # Only below out's real path: a symlink planted in it is refused, not followed.
        fs.create(root, a.filename, data)
        total += len(data)
        if progress:
            progress(1)
    return total


def generate_records(articles: int, seed: int = 0, **kw):
    """The same articles as records, without files (for in-memory benchmarks).

    Text is repaired the way loading repairs it, so this gives what ``load_corpus``
    would give for the written files (provider logos aside).
    """
    from .records.article import ArticleRecord, Image, ProviderRef
    from .records.parse import repair_text

    def rec(a: GenArticle, kinds: tuple[str, ...] | None, is_file: bool) -> ArticleRecord:
        p = a.provider
        return ArticleRecord(
            urls={
                k: a.urls[k]
                for k in ("webUrl", "originalUrl", "ampWebUrl", "cdnAmpWebUrl")
                if k in a.urls and (kinds is None or k in kinds)
            },
            title=repair_text(a.title),
            excerpt=repair_text(a.excerpt),
            published_at=a.published_at,
            category="news" if is_file else None,
            type="article",
            quality=a.quality,
            heat=a.heat if is_file else None,
            published=True if is_file else None,
            provider=ProviderRef(name=p.name, domain=p.domain),
            topics=list(a.topics) if is_file else [],
            images=[Image(url=a.image[0], width=a.image[1], height=a.image[2], is_cached=True)]
            if a.image
            else [],
            secured=a.secured if is_file else None,
        )

    for a in generate(articles, seed, **kw):
        r = rec(a, None, True)
        r.related = [rec(t, kinds, False) for t, kinds in a.related]
        r.body = a.body
        r.path = a.filename
        yield r
