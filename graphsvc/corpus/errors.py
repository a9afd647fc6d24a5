"""The errors a write to a corpus raises (GraphQL codes in ``extensions``)."""

from __future__ import annotations

from ..graph.errors import GraphError


class WriteRefused(GraphError):
    """The write was not attempted: invalid input, or an article that cannot be written."""

    extensions = {"code": "BAD_USER_INPUT"}


class WriteFailed(GraphError):
    """The file system refused a write; every file and the graph are as they were."""

    extensions = {"code": "WRITE_FAILED"}
