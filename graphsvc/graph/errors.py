"""Errors the graph layer raises for bad requests. Their messages are safe to show."""


class GraphError(ValueError):
    """A request the graph cannot answer; the message says why."""


class UnknownURL(GraphError):
    def __init__(self, url: str):
        super().__init__(f"unknown article URL: {url!r}")
        self.url = url


class BoundError(GraphError):
    """A parameter outside the bounds the service allows."""


def check_bound(name: str, value: int, low: int, high: int) -> int:
    """Raise :class:`BoundError` naming ``name`` unless ``low <= value <= high``."""
    if value is None or not low <= value <= high:
        raise BoundError(f"{name} must be between {low} and {high} (got {value})")
    return value
