"""`graphsvc export DIR --format frontmatter`: the files load back into the same graph."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from graphsvc.files import load_corpus
from graphsvc.graph import build_graph

from ..corpus import article, item, write


def export(source: Path, dest: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "graphsvc",
            "export",
            str(dest),
            "--format",
            "frontmatter",
            "--from",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def snapshot(folder: Path) -> dict:
    """Everything a graph holds: nodes with all their data, edges with their attributes,
    the URL index, and the load report (without line numbers, which move)."""
    lg = build_graph(load_corpus(folder))
    return {
        "nodes": {k: (d["kind"], dataclasses.asdict(d["data"])) for k, d in lg.g.nodes(data=True)},
        "edges": {(u, v): d for u, v, d in lg.g.edges(data=True)},
        "aliases": lg.alias_index,
        "issues": sorted((i.path, i.severity, i.message) for i in lg.issues),
        "stats": dataclasses.asdict(lg.stats()),
    }


def assert_same_graph(a: dict, b: dict) -> None:
    assert a["nodes"].keys() == b["nodes"].keys()
    for key in a["nodes"]:
        assert a["nodes"][key] == b["nodes"][key], key
    assert a["edges"] == b["edges"]
    assert a["aliases"] == b["aliases"]
    assert a["issues"] == b["issues"]
    assert a["stats"] == b["stats"]


def varied_corpus(folder: Path) -> None:
    """Files using every field and most of what the format lets a file get wrong."""
    stub = "https://stub.example/s"
    write(
        folder,
        "full.md",
        article(
            "https://full.example/a",
            "Full: we\u00e2\u20ac\u2122ve &amp; “quotes” 😀",  # mojibake and an entity, repaired
            date="2024-02-29T23:59:58.125+05:30",
            ampWebUrl="https://full.example/amp/a",
            cdnAmpWebUrl="https://full-example.cdn.ampproject.org/c/s/full.example/amp/a",
            excerpt="Two\nlines &nbsp;and a literal \\n",
            quality=47.5,
            heat=-1,
            published=False,
            provider={
                "name": "Full",
                "domain": "Full.Example",
                "images": ["https://full.example/l.png"],
                "twitter": "@full",
            },
            topics=["AI", "Computer Vision", 42],
            images=[
                {
                    "url": "https://full.example/i.jpg",
                    "width": 800,
                    "height": 533.0,
                    "isCached": "true",
                    "caption": "c",
                },
                "https://full.example/j.jpg",
            ],
            secured="/AjV==;/jew==",
            featuredContent='<iframe src="https://full.example/e"></iframe>',
            language="en",
            nested={"a": [1, None, True, 2.5, {"b": "2020-01-01"}], 7: "int key"},
            when=None,
            related=[
                item(
                    stub,
                    "A stub",
                    ampWebUrl="https://stub.example/amp/s",
                    extra_key=[1, 2],
                    related=["kept in a related item's extra"],
                ),
                item("https://full.example/b", "B, as the related item says"),
                item(stub, "The same stub again"),
                {"title": "a related item with no URL"},
            ],
        ),
        "\n<p>HTML body with --- inside</p>\r\n",
    )
    write(folder, "b/b.md", article("https://full.example/b", "B", provider="Just a name"))
    # wrong types: kept in extra and reported, the same way after the round trip
    write(
        folder,
        "wrong.md",
        article(
            "https://wrong.example/w",
            "Wrong",
            date="yesterday",
            quality="high",
            published="maybe",
            topics={"not": "a list"},
            images=[3],
            provider=["x"],
        ),
    )
    # only originalUrl; a date without time; a bare-string topic
    write(
        folder,
        "orig.md",
        {
            "originalUrl": "https://orig.example/o",
            "title": "Orig",
            "publishedDateTime": "2023-05-06",
            "topics": "Solo",
        },
    )
    # two files for one article (the newer wins; the older adds its URL)
    write(
        folder,
        "dup1.md",
        article(
            "https://dup.example/d",
            "Dup old",
            date="2020-01-01T00:00:00Z",
            originalUrl="https://dup.example/original",
        ),
    )
    write(
        folder, "dup2.md", article("https://dup.example/d", "Dup new", date="2021-01-01T00:00:00Z")
    )
    write(folder, "empty-body.md", article("https://e.example/e", "Empty body"), "\n\n")
    (folder / "crlf.md").write_bytes(
        b"---\r\ntitle: CRLF\r\nwebUrl: https://crlf.example/c\r\n---\r\nBody\r\nline 2\r\n"
    )
    write(folder, "broken.md", "title: [unclosed\n")  # not in the graph, not exported


def test_round_trip_of_a_varied_corpus(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    varied_corpus(src)
    original = snapshot(src)
    assert original["stats"]["stubs"] >= 1 and original["stats"]["load_errors"] >= 5
    r = export(src, out)
    assert r.returncode == 0, r.stderr
    assert "1 of 9 files did not load" in r.stderr
    again = snapshot(out)
    broken = [i for i in original["issues"] if i[0] == "broken.md"]
    assert broken and not [i for i in again["issues"] if i[0] == "broken.md"]
    original["issues"] = [i for i in original["issues"] if i[0] != "broken.md"]
    original["stats"]["files"] -= 1
    original["stats"]["load_errors"] -= len(broken)
    assert_same_graph(original, again)
    # stubs stay stubs: written only inside related lists, never as files of their own
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(
        [
            "full.md",
            "b/b.md",
            "wrong.md",
            "orig.md",
            "dup1.md",
            "dup2.md",
            "empty-body.md",
            "crlf.md",
        ]
    )
    # and exporting the export gives the very same bytes
    r = export(out, tmp_path / "out2")
    assert r.returncode == 0, r.stderr
    for f in files:
        assert (tmp_path / "out2" / f).read_bytes() == (out / f).read_bytes(), f


def test_round_trip_of_the_shared_corpus(shared_corpus, tmp_path):
    r = export(shared_corpus, tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert_same_graph(snapshot(shared_corpus), snapshot(tmp_path / "out"))


def test_export_never_overwrites(tmp_path):
    src = tmp_path / "src"
    write(src, "a.md", article("https://a.example/a", "A"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    r = export(src, tmp_path / "full")
    assert r.returncode == 2 and "is not empty" in r.stderr
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_formats(tmp_path, fmt):
    r = subprocess.run(
        [sys.executable, "-m", "graphsvc", "export", str(tmp_path / "o"), "--format", fmt],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "invalid choice" in r.stderr
