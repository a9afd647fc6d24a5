"""The search query language: a user's query parsed into terms, then built as tantivy
``Query`` objects (:func:`build_query`) or as FTS5 text (:func:`fts_query`).

Query syntax (:func:`parse`): words in any order (all must match), ``"a phrase"`` in
quotes (the words next to each other in one field), ``prefix*``, and ``-word`` to
exclude. Anything else is taken as text: the query is built from tantivy ``Query``
objects, never parsed by tantivy, so it never fails to parse. A prefix becomes the
words of the index that start with it (``Searcher.terms_with_prefix``, up to
:data:`PREFIX_TERMS` per field, each ranked by BM25); past that, a regex query
(``prefix.*``), which scores every match of a field alike. A query with more than
:data:`MAX_PREFIXES` prefixes, or a prefix that starts more than
:data:`MAX_PREFIX_WORDS` words of a field, is refused (:class:`TooBroad`) before any
matching: each prefix is looked up and expanded in every field. :func:`fts_query` writes
the same query as an FTS5 expression, for the benchmarks' SQLite baselines.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tantivy import Occur, Query

from ..errors import LimitRefused
from .search_text import COLUMNS, SCHEMA, WEIGHTS, fold, words

MAX_QUERY = 1000
#: A prefix matches up to this many words of a field one by one (each ranked by BM25);
#: past that, a regex query (every match scores the field's weight).
PREFIX_TERMS = 64
#: Most prefix terms (``word*``, excluded ones too) in one query: each is looked up in
#: every field and expanded to the words it starts (400 ``a*`` took ~2 s of CPU).
MAX_PREFIXES = 16
#: Most words of the index one prefix may expand to in one field.
MAX_PREFIX_WORDS = 1000


class QueryError(ValueError):
    """A search query refused before it is built (longer than :data:`MAX_QUERY`)."""


class TooBroad(LimitRefused):
    """A search refused by a limit on its prefixes (before any matching): the message
    names the limit, as every refused limit does."""

    def __init__(self, limit: str, maximum: int, detail: str):
        super().__init__(f"search refused by the limit {limit}={maximum}: {detail}", limit, maximum)


_TERM = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True, slots=True)
class Term:
    """One word or phrase of a query (folded text), a prefix when ``prefix``."""

    text: str
    prefix: bool = False


def parse(text: str) -> tuple[list[Term], list[Term]]:
    """The user's query as the terms that must match and those that must not.

    A word or a quoted phrase is a term (its punctuation is the analyzer's business,
    never syntax); a trailing ``*`` makes a prefix; a leading ``-`` excludes. Terms
    without a letter or digit are dropped.
    """
    if len(text) > MAX_QUERY:
        raise QueryError(f"a search query is at most {MAX_QUERY} characters (got {len(text)})")
    include: list[Term] = []
    exclude: list[Term] = []
    for m in _TERM.finditer(fold(text)):
        neg, phrase, word = m.group(1), m.group(2), m.group(3)
        prefix = False
        if word is not None:
            if word.startswith("-") and len(word) > 1:
                neg, word = "-", word[1:]
            prefix = word.endswith("*")
            phrase = word.rstrip("*")
        if not _has_word(phrase):
            continue
        (exclude if neg else include).append(Term(phrase, prefix))
    return include, exclude


def fts_query(text: str) -> str | None:
    """The user's query as an FTS5 expression (the benchmarks' SQLite baselines); None
    when it has no words. Every term becomes an FTS5 string, so it is never syntax."""
    include, exclude = parse(text)
    if not include:
        return None

    def fts(t: Term) -> str:
        return '"' + t.text.replace('"', '""') + '"' + (" *" if t.prefix else "")

    expr = " AND ".join(fts(t) for t in include)
    for t in exclude:
        expr = f"({expr}) NOT {fts(t)}"
    return expr


def _has_word(s: str) -> bool:
    return any(unicodedata.category(c)[0] in "LN" for c in s)


_BOOST = dict(zip(COLUMNS, WEIGHTS, strict=True))


def _any(queries: list) -> object:
    if len(queries) == 1:
        return queries[0]
    return Query.boolean_query([(Occur.Should, q) for q in queries])


def _field_query(searcher, field: str, tokens: list[str], prefix: bool):
    """One term in one field: a word, a phrase, or their prefix form; None: no match."""
    if not prefix:
        if len(tokens) == 1:
            return Query.term_query(SCHEMA, field, tokens[0])
        words: list[str | tuple[int, str]] = list(tokens)  # tantivy: a word or (position, word)
        return Query.phrase_query(SCHEMA, field, words)
    *head, last = tokens
    found = searcher.terms_with_prefix(field, last, limit=MAX_PREFIX_WORDS + 1)
    if not found:
        return None
    if len(found) > MAX_PREFIX_WORDS:
        raise TooBroad(
            "search-prefix-words",
            MAX_PREFIX_WORDS,
            f"{last}* starts more than {MAX_PREFIX_WORDS} words of the {field} field; "
            "write more of the word",
        )
    if len(found) > PREFIX_TERMS:
        # Every word with the prefix (tokens are letters and digits: no regex syntax);
        # not phrase_prefix_query, which stops at 50 of them.
        if head:
            return Query.regex_phrase_query(SCHEMA, field, [*head, last + ".*"])
        return Query.regex_query(SCHEMA, field, last + ".*")
    words_ = sorted(w for w, _ in found)  # the same clauses in the same order every time
    if head:
        return _any([Query.phrase_query(SCHEMA, field, [*head, w]) for w in words_])
    return _any([Query.term_query(SCHEMA, field, w) for w in words_])


def _term_query(searcher, term: Term, fields=COLUMNS, boost: bool = True):
    """A term in any of ``fields`` (scores summed over them), or None: it matches
    nothing."""
    tokens = words(term.text)
    if not tokens:
        return None
    clauses = []
    for f in fields:
        q = _field_query(searcher, f, tokens, term.prefix)
        if q is not None:
            clauses.append(Query.boost_query(q, _BOOST[f]) if boost else q)
    return _any(clauses) if clauses else None


def build_query(searcher, text: str, fields=COLUMNS, negate: bool = True):
    """The tantivy query of a user's query; None when it has no words (no hits)."""
    include, exclude = parse(text)
    if not include:
        return None
    prefixes = sum(t.prefix for t in (*include, *exclude))
    if prefixes > MAX_PREFIXES:
        raise TooBroad(
            "search-prefixes",
            MAX_PREFIXES,
            f"the query has {prefixes} prefix terms (word*); at most {MAX_PREFIXES}",
        )
    must = []
    for t in include:
        q = _term_query(searcher, t, fields)
        if q is None:
            if fields is COLUMNS:
                return Query.empty_query()  # a word no document has: nothing matches
            continue
        must.append(q)
    if not must:
        return Query.empty_query()
    clauses = [(Occur.Must, q) for q in must]
    if negate:
        for t in exclude:
            q = _term_query(searcher, t, boost=False)
            if q is not None:
                clauses.append((Occur.MustNot, q))
    if len(clauses) == 1:
        return must[0]
    return Query.boolean_query(clauses)
