"""The command line's pieces in process: the settings' parsers and the load report's
order, which `graphsvc validate` keeps without importing the API."""

from __future__ import annotations

import pytest

from graphsvc import config
from graphsvc.config import Config, SettingError
from graphsvc.loading import load_report, load_static_graph, snapshot_messages


@pytest.mark.parametrize("raw", ["0", "1", "8000", "65535", " 18600 "])
def test_ports_in_range(raw):
    assert config.port_number(raw) == int(raw)


@pytest.mark.parametrize("raw", ["-1", "65536", "99999", "http", "", "80.5"])
def test_ports_out_of_range_or_not_numbers(raw):
    with pytest.raises(SettingError):
        config.port_number(raw)


def test_a_bad_variable_names_itself():
    with pytest.raises(SettingError, match=r"\$GRAPHSVC_MAX_DEPTH: 'deep' is not a whole number"):
        config.Settings.from_env({"GRAPHSVC_MAX_DEPTH": "deep"})


def test_validate_orders_problems_as_the_api_does(tmp_path):
    from graphsvc.api.stats import load_report as api_order

    (tmp_path / "b.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    (tmp_path / "a.md").write_text("no front matter at all\n")
    (tmp_path / "c.md").write_text("---\nurl: https://c.example/1\ntitle: C\n---\nbody\n")
    lg = load_static_graph(tmp_path, Config(cache=False), quiet=True)
    assert len(lg.issues) >= 2
    assert load_report(lg) == api_order(lg)


def test_snapshot_messages_say_what_happened():
    assert snapshot_messages(None) == []
    assert snapshot_messages("no snapshot yet") == []
    (line,) = snapshot_messages("snapshot has no delta state (written by a read-only server)")
    assert "graphsvc validate" in line and "read the files" in line
    assert snapshot_messages("None; no snapshot written: disk full") == [
        "no snapshot written: disk full"
    ]
