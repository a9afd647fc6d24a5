"""The corpus folder on disk: what may be read (only the folder, only regular files, no
symlinks followed), loading it into records, following it, writing article files with a
journal that a crash cannot tear. Knows nothing of graphs or the API."""

from .loader import FolderRecords, list_files, load_corpus, read_file

__all__ = ["FolderRecords", "list_files", "load_corpus", "read_file"]
