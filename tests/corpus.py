"""Write article files for tests: the real file format, built from plain dicts."""

from __future__ import annotations

from pathlib import Path

import yaml


def article(
    url: str, title: str, *, date: str = "2024-01-01T00:00:00Z", related=(), **more
) -> dict:
    """Front matter for one article; ``related`` items are dicts (see :func:`item`)."""
    fm = {
        "category": "news",
        "title": title,
        "excerpt": f"Excerpt of {title}",
        "publishedDateTime": date,
        "originalUrl": url,
        "webUrl": url,
        "type": "article",
        "quality": 50,
        "heat": -1,
        "published": True,
        "provider": {"name": "Example", "domain": "example.com"},
        "topics": ["AI"],
    }
    fm.update(more)
    if related:
        fm["related"] = list(related)
    return fm


def item(url: str, title: str = "", **more) -> dict:
    """A related item as files write them."""
    d = {
        "title": title or f"Related {url}",
        "excerpt": "",
        "publishedDateTime": "2024-01-02T00:00:00Z",
        "webUrl": url,
        "type": "article",
        "provider": {"name": "Example", "domain": "example.com"},
        "quality": 40,
    }
    d.update(more)
    return d


def write(folder: Path, name: str, fm: dict | str, body: str | None = None) -> Path:
    """Write ``fm`` (a dict, or raw front-matter text) as ``folder/name``."""
    text = fm if isinstance(fm, str) else yaml.safe_dump(fm, sort_keys=False, allow_unicode=True)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{text}---\n" + (body or ""), encoding="utf-8")
    return path


def chain_corpus(folder: Path, n: int, prefix: str = "https://chain.example/a") -> list[str]:
    """``n`` articles where article i's related list names article i+1: a chain of n-1 hops."""
    urls = [f"{prefix}{i}" for i in range(n)]
    for i, u in enumerate(urls):
        rel = [item(urls[i + 1])] if i + 1 < n else []
        write(folder, f"chain-{i:04d}.md", article(u, f"Chain {i}", related=rel))
    return urls
