"""The test cluster itself: it runs, takes the app role's password from PGPASSFILE, and
stops and starts for fault tests."""

import psycopg
import pytest


def test_cluster_serves_tcp_and_socket(pg_cluster, pg_url):
    with psycopg.connect(pg_url) as conn:
        (user,) = conn.execute("SELECT current_user").fetchone()
        assert user == "graphsvc"
        assert conn.info.host == "127.0.0.1"
    db = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_cluster.socket_url(db)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.host.startswith("/")


def test_app_role_is_not_superuser(pg_url):
    with psycopg.connect(pg_url) as conn:
        (su,) = conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert su is False


def test_stop_and_start(pg_cluster, pg_url):
    pg_cluster.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg_url, connect_timeout=2)
    pg_cluster.start()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
