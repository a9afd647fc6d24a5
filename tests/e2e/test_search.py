"""Ranked search on a real server, against a relevance set computed here from the files.

The expected hits are worked out independently of the service: the test reads the
shared corpus's files with PyYAML, folds text its own way (NFKD without combining
marks, case-folded, tags dropped, entities unescaped, runs of letters and digits as
words) and decides which files match; the server must return exactly those, and rank
title matches first.
"""

from __future__ import annotations

import html
import re
import shutil
import unicodedata

import pytest
import yaml

from graphsvc.generate import write_corpus

from ..conftest import SHARED_CORPUS, serve
from ..livetools import TOKEN, upsert, wait_for

pytestmark = pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="no shared corpus")

SEARCH = """
query($q: String!, $first: Int, $after: String) {
  search(query: $q, first: $first, after: $after, where: {isStub: {eq: false}}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { score snippet titleHighlight cursor node { url title sources } }
  }
}"""


def words(text: str) -> list[str]:
    text = html.unescape(re.sub(r"<[^>]*>", " ", text or ""))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return re.findall(r"[^\W_]+", text)


def load_files() -> dict[str, dict]:
    """path (relative) -> {"title", "fields": [word lists], "title_words"}."""
    out = {}
    for path in sorted(SHARED_CORPUS.rglob("*")):
        if not path.is_file() or any(
            p.startswith(".") for p in path.relative_to(SHARED_CORPUS).parts
        ):
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        if not raw.startswith("---"):
            continue
        head, sep, body = raw[3:].partition("\n---")
        try:
            fm = yaml.safe_load(head)
        except yaml.YAMLError:
            continue
        if not isinstance(fm, dict) or not sep:
            continue
        prov = fm.get("provider") or {}
        prov_text = " ".join(str(prov.get(k) or "") for k in ("name", "domain"))
        topics = " ".join(str(t) for t in fm.get("topics") or [])
        fields = [
            words(str(fm.get("title") or "")),
            words(str(fm.get("excerpt") or "")),
            words(body.partition("\n")[2]),
            words(prov_text),
            words(topics),
        ]
        own = "\n".join([str(fm.get("title") or ""), str(fm.get("excerpt") or ""), body])
        out[str(path.relative_to(SHARED_CORPUS))] = {
            "title": fm.get("title"),
            "fields": fields,
            "own": own,
        }
    return out


def has_phrase(seq: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(seq[i : i + n] == phrase for i in range(len(seq) - n + 1))


def matching(files, terms: list[list[str]], prefix: str | None = None) -> set[str]:
    """Files in which every term (a phrase: a list of words) occurs in one field."""
    found = set()
    for path, f in files.items():
        ok = all(any(has_phrase(seq, t) for seq in f["fields"]) for t in terms)
        if prefix is not None:
            ok = ok and any(w.startswith(prefix) for seq in f["fields"] for w in seq)
        if ok:
            found.add(path)
    return found


def all_hits(server, q: str) -> list[dict]:
    edges, after = [], None
    while True:
        page = server.data(SEARCH, {"q": q, "first": 200, "after": after})["search"]
        edges += page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            assert len(edges) == page["totalCount"]
            return edges
        after = page["pageInfo"]["endCursor"]


def hit_files(edges) -> set[str]:
    return {s for e in edges for s in e["node"]["sources"]}


@pytest.fixture(scope="module")
def files():
    return load_files()


@pytest.fixture(scope="module")
def server(read_only_server):
    return read_only_server(SHARED_CORPUS)


def check_ranked(edges, terms):
    """Scores never rise, and every hit with all terms in its title comes first."""
    scores = [e["score"] for e in edges]
    assert scores == sorted(scores, reverse=True)
    in_title = [all(has_phrase(words(e["node"]["title"]), t) for t in terms) for e in edges]
    assert any(in_title)
    first_other = in_title.index(False) if False in in_title else len(in_title)
    assert all(in_title[:first_other]) and not any(in_title[first_other:]), in_title


def test_words_in_any_order(server, files):
    terms = [["jumpstart"], ["sagemaker"]]
    expected = matching(files, terms)
    assert len(expected) >= 4
    for q in ("JumpStart SageMaker", "SageMaker JumpStart", "sagemaker   JUMPSTART"):
        edges = all_hits(server, q)
        assert hit_files(edges) == expected, q
        check_ranked(edges, terms)
    top = all_hits(server, "JumpStart SageMaker")[0]
    assert "<mark>JumpStart</mark>" in top["titleHighlight"]


def test_accents_fold(server, files):
    expected = matching(files, [["pokemon"]])
    assert expected, "the corpus has a Pokémon article"
    edges = all_hits(server, "pokemon")
    assert hit_files(edges) == expected
    assert "Pokémon" in edges[0]["node"]["title"]
    assert "<mark>Pokémon</mark>" in edges[0]["snippet"]
    assert hit_files(all_hits(server, "POKÉMON")) == expected


def test_curly_and_straight_quotes(server, files):
    expected = matching(files, [["we", "re"], ["excited"]])
    # As the files write it, in the article's own text (not in a related item).
    written_curly = {p for p, f in files.items() if "We’re excited" in f["own"]}
    assert len(written_curly) >= 8
    assert written_curly <= expected
    for q in ("We're excited", "We’re excited"):
        assert hit_files(all_hits(server, q)) == expected, q
    phrase = all_hits(server, '"we\'re excited"')
    assert written_curly <= hit_files(phrase) <= expected


def test_no_break_space_phrase(server, files):
    # A title or excerpt that the files write with &nbsp; (a no-break space once read).
    found = None
    for p in files:
        text = (SHARED_CORPUS / p).read_text()
        m = re.search(r"^excerpt: .*?\b([A-Za-z]{3,}) ?&nbsp;([A-Za-z]{3,})\b", text, re.M)
        if m:
            found = p, f"{m.group(1)} {m.group(2)}"
            break
    assert found, "the corpus has an excerpt with a no-break space"
    path, phrase = found
    edges = all_hits(server, f'"{phrase}"')
    assert path in hit_files(edges)
    assert hit_files(edges) == matching(files, [words(phrase)])


def test_body_only_word(server, files):
    # The rarest long word that appears in exactly one file, and only in its body.
    where: dict[str, set[str]] = {}
    outside: set[str] = set()
    for p, f in files.items():
        for i, seq in enumerate(f["fields"]):
            for w in seq:
                if i == 2:
                    where.setdefault(w, set()).add(p)
                else:
                    outside.add(w)
    candidates = sorted(
        w for w, ps in where.items() if len(ps) == 1 and w not in outside and w.isalpha()
    )
    word = next(w for w in candidates if len(w) >= 9)
    edges = all_hits(server, word)
    assert hit_files(edges) == where[word]
    assert "<mark>" in edges[0]["snippet"]


def test_prefix_and_exclude(server, files):
    expected = matching(files, [], prefix="sagem")
    assert len(expected) >= 10
    assert hit_files(all_hits(server, "sagem*")) == expected
    without = expected - matching(files, [["jumpstart"]])
    assert hit_files(all_hits(server, "sagem* -jumpstart")) == without


def test_nothing_to_search_and_bad_syntax(server):
    for q in ('"', "***", "-", "AND OR NOT", "(", 'a:b "unclosed'):
        body = server.gql(SEARCH, {"q": q, "first": 5})
        assert "errors" not in body, (q, body)
    body = server.gql(SEARCH, {"q": "x" * 1001, "first": 5})
    assert "at most 1000 characters" in body["errors"][0]["message"]


def test_snippet_is_safe_html_and_follows_the_folder(tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(SHARED_CORPUS / "everyday-ai", folder)
    with serve(folder, tmp=tmp_path, env={"GRAPHSVC_TOKEN": TOKEN}) as s:
        q = "query($q: String!) { search(query: $q) { totalCount edges { snippet titleHighlight node { url } } } }"

        def found(word):
            return s.data(q, {"q": word})["search"]

        assert found("quokkasaurus")["totalCount"] == 0
        # An edit through the folder shows in search: the delta is applied.
        target = sorted(folder.glob("*.md"))[0]
        text = target.read_text()
        target.write_text(text.replace("\ntitle: ", "\ntitle: Quokkasaurus <b>&amp;</b> ", 1))
        hit = wait_for(lambda: found("quokkasaurus")["edges"], what="edited file in search")
        assert "<mark>Quokkasaurus</mark> &lt;b&gt;&amp;&lt;/b&gt;" in hit[0]["titleHighlight"]
        target.unlink()
        wait_for(lambda: found("quokkasaurus")["totalCount"] == 0, what="deleted file gone")
        # A write through the API: the markup in it is escaped in the snippet.
        upsert(
            s,
            {
                "webUrl": "https://x.example/zebra",
                "title": '<script>alert("x")</script> Zebrafish',
                "excerpt": "Zebrafish & friends",
            },
        )
        edges = found("zebrafish")["edges"]
        assert [e["node"]["url"] for e in edges] == ["https://x.example/zebra"]
        assert "<script" not in edges[0]["titleHighlight"]
        assert "&lt;script&gt;" in edges[0]["titleHighlight"]
        assert "<mark>Zebrafish</mark>" in edges[0]["titleHighlight"]


def test_first_page_shortcut_agrees_with_full_ranking(server):
    """A plain first page comes from FTS5's best few alone; a where forces the full
    ranking. Both must give the same page, count and cursors."""
    q = """query($q: String!, $w: ArticleWhere, $after: String) {
      search(query: $q, first: 7, where: $w, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { cursor score snippet node { url } } } }"""
    for text in ("sagemaker", "power apps", "dataverse -canvas", "excit*", "pokemon", "zzzq"):
        fast = server.data(q, {"q": text})["search"]
        full = server.data(q, {"q": text, "w": {"url": {"isNull": False}}})["search"]
        assert fast == full, text
        if fast["pageInfo"]["hasNextPage"]:
            after = fast["pageInfo"]["endCursor"]
            w = {"url": {"isNull": False}}
            nxt = server.data(q, {"q": text, "w": w, "after": after})["search"]
            assert server.data(q, {"q": text, "after": after})["search"] == nxt
            seen = {e["node"]["url"] for e in fast["edges"]}
            assert nxt["edges"] and not seen & {e["node"]["url"] for e in nxt["edges"]}


def test_a_server_builds_the_search_index_once_loaded(tmp_path):
    """A real server starts the first index build after its load, so that the first
    search need not wait for it; no search is sent here."""
    folder = tmp_path / "corpus"
    write_corpus(folder, 200, seed=2)
    with serve(folder, tmp=tmp_path) as s:
        found = wait_for(
            lambda: re.search(r"search index of (\d+) articles built", s.logs()),
            what="index built",
            server=s,
        )
        assert int(found.group(1)) == s.data("{ stats { articles } }")["stats"]["articles"]
        body = s.gql('{ search(query: "the", first: 1) { totalCount } }')
        assert "errors" not in body, body


def test_a_search_while_the_index_is_built_is_told_so(tmp_path):
    """With operations on the event loop (``--threads 0``) a search does not wait for
    the first index (that would hold every request): it is told the index is being
    built, with NOT_READY, and a later one answers."""
    folder = tmp_path / "corpus"
    write_corpus(folder, 3000, seed=3)
    with serve(folder, "--threads", "0", tmp=tmp_path) as s:
        query = '{ search(query: "the", first: 1) { totalCount } }'
        body = s.gql(query)
        if "errors" not in body:
            pytest.skip("the index was built before the first search came")
        (err,) = body["errors"]
        assert err["extensions"]["code"] == "NOT_READY", err
        assert "still being built" in err["message"], err
        wait_for(lambda: "errors" not in s.gql(query), what="search answers", server=s)
