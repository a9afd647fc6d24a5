"""Fast answers: `graphsvc serve --workers 2` answers and leaves its snapshot (moved from
tests/unit/test_fastpath.py, whose other tests run in process)."""

from ..conftest import serve


def test_serve_with_two_workers(tmp_path):
    env = {"GRAPHSVC_CACHE_DIR": str(tmp_path / "cache")}
    with serve(None, "--workers", "2", tmp=tmp_path, env=env) as s:
        stats = s.data("{ stats { articles documents } }")["stats"]
        assert stats == {"articles": 4, "documents": 2}
        assert "2 worker processes" in s.logs()
    assert list((tmp_path / "cache").glob("*.snapshot"))
