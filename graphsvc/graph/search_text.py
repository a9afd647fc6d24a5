"""What the search index holds and how text is put in it: the fields, their weights,
the fold and the analyzer.

One in-memory tantivy index holds, per article, five text fields: ``title``,
``excerpt``, ``body`` (HTML tags dropped, entities unescaped), ``provider`` (name and
domain) and ``topics``, and ``rid``, a u64 fast field naming the written document.
Text is put in NFKC form first (no-break spaces become spaces, ligatures and full-width
letters plain letters), entities unescaped and curly quotes made straight
(:func:`fold`, in Python); one analyzer, registered as :data:`ANALYZER` and used for
the index and for query words alike, splits on what is not a letter or digit and folds
case and accents (``Filter.lowercase`` and ``Filter.ascii_fold``: ``Pokémon`` =
``pokemon``).
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata

import tantivy

from .model import Article

COLUMNS = ("title", "excerpt", "body", "provider", "topics")
#: BM25 weight (tantivy boost) of each field, in COLUMNS order: a word in the title
#: counts most.
WEIGHTS = (10.0, 4.0, 1.0, 3.0, 5.0)
#: Where a snippet may come from, in order of preference when two match as well.
SNIPPET_FIELDS = ("excerpt", "body", "title")
#: A snippet's length in bytes of text (about FTS5's 24 tokens).
SNIPPET_CHARS = 160
#: The analyzer of every text field and of query words: words are runs of letters and
#: digits, case and accents folded.
ANALYZER = "graphsvc_fold"
#: The u64 fast field naming each written document (never reused).
RID = "rid"

_TAG = re.compile(r"<[^>]*>")
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)


def fold(text: str | None) -> str:
    """Text as indexed and queried: entities unescaped, NFKC, straight quotes."""
    if not text:
        return ""
    return unicodedata.normalize("NFKC", html.unescape(text)).translate(_QUOTES)


def body_text(body: str | None) -> str:
    """A body's words: tags dropped (as spaces), entities unescaped."""
    if not body:
        return ""
    return fold(_TAG.sub(" ", body))


def article_row(a: Article) -> tuple[str, str, str, str, str]:
    prov = ""
    if a.provider is not None:
        prov = " ".join(x for x in (a.provider.name, a.provider.domain) if x)
    return (
        fold(a.title),
        fold(a.excerpt),
        body_text(a.body),
        fold(prov),
        fold(" ; ".join(a.topics)),
    )


# -- the tantivy side ----------------------------------------------------------------------
def analyzer() -> tantivy.TextAnalyzer:
    """Words (runs of letters and digits), lower case, accents folded to ASCII."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    for name in COLUMNS:  # stored: the fields snippets come from
        b.add_text_field(name, stored=name in SNIPPET_FIELDS, tokenizer_name=ANALYZER)
    b.add_unsigned_field(RID, indexed=True, fast=True)
    return b.build()


SCHEMA = _schema()
_local = threading.local()  # an analyzer per thread for query words


def words(text: str) -> list[str]:
    """``text`` as the index's tokens (the analyzer the index uses)."""
    a = getattr(_local, "analyzer", None)
    if a is None:
        a = _local.analyzer = analyzer()
    return a.analyze(text)


def document(rid: int, row: tuple[str, ...]) -> tantivy.Document:
    """The tantivy document of one article's :func:`article_row`, written as ``rid``."""
    d = tantivy.Document()
    for name, text in zip(COLUMNS, row, strict=True):
        if text:
            d.add_text(name, text)
    d.add_unsigned(RID, rid)
    return d
