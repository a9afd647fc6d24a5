"""The tantivy side of search, without a graph: queries over a handful of documents."""

from __future__ import annotations

import pytest

from graphsvc.graph import search as gs
from graphsvc.graph import search_query as sq
from graphsvc.graph import search_text as st


def _index(titles: list[str]) -> gs._Tantivy:
    t = gs._Tantivy()
    for rid, title in enumerate(titles, start=1):
        t.writer.add_document(st.document(rid, (st.fold(title), "", "", "", "")))
    t.writer.commit()
    t.index.reload()
    t.searcher = t.index.searcher()
    return t


def _count(t: gs._Tantivy, text: str) -> int:
    q = sq.build_query(t.searcher, text)
    return 0 if q is None else t.searcher.search(q, 1, count=True).count


@pytest.mark.parametrize("n", [10, sq.PREFIX_TERMS + 1, 300])
def test_a_prefix_matches_every_word_it_starts(n):
    """Past PREFIX_TERMS words a prefix is a regex query: still every one of them
    (tantivy's phrase_prefix_query would stop at 50)."""
    t = _index([f"alpha pre{i:03d} omega" for i in range(n)] + ["alpha other omega"])
    assert _count(t, "pre*") == n
    assert _count(t, "alpha-pre*") == n  # one word of two tokens: a phrase prefix
    assert _count(t, "omega-pre*") == 0  # a phrase: in order
    assert _count(t, "pre* -pre001") == n - 1
    assert _count(t, "alpha -pre*") == 1


def test_words_fold_and_never_parse():
    t = _index(["Pokémon Go", "We’re excited", "ﬁne print", "AND OR NOT (x)"])
    assert _count(t, "POKEMON") == _count(t, "pokémon") == 1
    assert _count(t, "we're") == _count(t, '"we re"') == 1
    assert _count(t, "fine") == 1
    assert _count(t, "AND OR NOT") == 1  # words, not operators
    for text in ('"', "***", "-", "(", 'a:b "unclosed', "title:x", "x^2", "[a TO b]"):
        sq.build_query(t.searcher, text)  # never a syntax error
    assert _count(t, "-pokemon") == 0  # nothing to include: no hits
