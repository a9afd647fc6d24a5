"""Files' bytes -> typed records: the article file format (front matter and body), every
known field typed and repaired, every problem a :class:`LoadIssue` with its line.
Knows nothing of folders, graphs or the API."""

from .article import URL_FIELDS, ArticleRecord, Image, LoadIssue, ProviderRef, errors_first
from .parse import parse_bytes, parse_text, repair_text

__all__ = [
    "URL_FIELDS",
    "ArticleRecord",
    "Image",
    "LoadIssue",
    "errors_first",
    "ProviderRef",
    "parse_bytes",
    "parse_text",
    "repair_text",
]
