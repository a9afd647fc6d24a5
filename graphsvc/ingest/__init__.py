"""Files -> records: reading and validating article files."""

from .loader import Corpus, list_files, load_corpus, read_file
from .parse import parse_bytes, parse_text, repair_text
from .records import URL_FIELDS, ArticleRecord, Image, LoadIssue, ProviderRef

__all__ = [
    "URL_FIELDS",
    "ArticleRecord",
    "Corpus",
    "Image",
    "LoadIssue",
    "ProviderRef",
    "list_files",
    "load_corpus",
    "parse_bytes",
    "parse_text",
    "read_file",
    "repair_text",
]
