"""The command line as people expect one (issue 23, item 4): `--help` lists every
command on one line in plain text, every option has help and shows its default, a bad
value is one line and exit status 2 (no traceback), a port in use is said before
anything claims to serve, and the snapshot messages after `validate` are true.

Every test runs the real `graphsvc` command line in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from graphsvc.cli import parser

from ..conftest import SEEDS, clean_env, free_port, serve
from ..livetools import wait_for


def run(*args: str, env: dict | None = None, prefix: tuple[str, ...] = (), timeout: float = 60):
    """`python -m graphsvc ARGS`, its output captured (an 80-column terminal's width)."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "graphsvc", *args],
        capture_output=True,
        text=True,
        env=clean_env(COLUMNS="80", **(env or {})),
        timeout=timeout,
    )


def commands() -> dict[str, list[str]]:
    """Every command's name -> its arguments (``store prune`` is ``store``, ``prune``)."""
    p = parser()
    sub = next(a for a in p._actions if a.dest == "command")
    found = {}
    for name, cmd in sub.choices.items():
        nested = [a for a in cmd._actions if a.dest == "store_command"]
        if nested:
            for inner in nested[0].choices:
                found[f"{name} {inner}"] = [name, inner]
        found[name] = [name]
    return found


def test_help_lists_every_command_on_one_line_in_plain_text():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    for markup in ("``", ":mod:", ":class:", ":func:"):
        assert markup not in r.stdout, r.stdout
    lines = r.stdout.splitlines()
    for name in {c.split()[0] for c in commands()}:
        (line,) = [x for x in lines if x.strip().split(" ")[0] == name]
        # the name, then its help on the same line
        assert re.fullmatch(rf"\s+{re.escape(name)}\s{{2,}}\S.*", line), line
        after = lines[lines.index(line) + 1]
        indent = len(line) - len(line.lstrip())
        assert len(after) - len(after.lstrip()) <= indent, (line, after)  # no wrapped help


def _entries(text: str) -> list[tuple[str, str]]:
    """(invocation, help) of every argument ``--help`` lists."""
    entries: list[list[str]] = []
    for line in text.splitlines():
        m = re.match(r"^  (\S.*?)(?:\s{2,}(\S.*))?$", line)
        if m and not line.startswith("   ") and (m.group(1).startswith("-") or entries):
            if m.group(1).endswith(":"):
                continue
            entries.append([m.group(1), m.group(2) or ""])
        elif line.startswith("    ") and entries:
            entries[-1][1] += " " + line.strip()
        elif not line.strip() or not line.startswith(" "):
            entries.append(["", ""]) if entries and entries[-1][0] else None
    return [(inv, help_.strip()) for inv, help_ in entries if inv]


@pytest.mark.parametrize("command", sorted(commands()))
def test_every_option_has_help_and_shows_its_default(command):
    r = run(*commands()[command], "--help")
    assert r.returncode == 0, r.stderr
    body = r.stdout.split("\n\n", 1)[1]  # after the usage
    entries = [e for e in _entries(body) if not e[0].startswith("-h")]
    for invocation, help_ in entries:
        if invocation.startswith("{") or invocation == "COMMAND":
            continue
        assert help_, f"{command}: {invocation} has no help"
        takes_value = invocation.startswith("-") and " " in invocation.split(",")[0]
        if takes_value:
            shown = "default" in help_ or "(required)" in help_
            assert shown, f"{command}: {invocation}: no default in {help_!r}"


def _one_line_error(r, *expected: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stdout == "", r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("serve", "--port", "99999"), ("--port", "99999", "0-65535")),
        (("serve", "--port", "-1"), ("--port", "0-65535")),
        (("serve", "--port", "http"), ("--port", "'http'")),
        (("serve", "--log-level", "loud"), ("--log-level", "'loud'")),
        (("serve", "--workers", "0"), ("--workers",)),
        (("validate", "{missing}"), ("no such folder",)),
        (("validate", "{file}"), ("is a file, not a folder",)),
        (("serve", "{file}"), ("is a file, not a folder",)),
        (("import", "{file}"), ("is a file, not a folder",)),
        (("export", "--from", "{file}", "{out}"), ("is a file, not a folder",)),
        (("serve", "--max-depth", "deep"), ("--max-depth", "'deep'")),
        (("frobnicate",), ("invalid choice",)),
    ],
)
def test_a_bad_value_is_one_line_and_exit_status_2(tmp_path, args, expected):
    file = tmp_path / "article.md"
    file.write_text("---\ntitle: x\n---\n")
    names = {"missing": tmp_path / "nowhere", "file": file, "out": tmp_path / "out"}
    args = tuple(a.format(**names) for a in args)
    r = run(*args, "--host", "127.0.0.1", timeout=60) if args[0] == "serve" else run(*args)
    _one_line_error(r, *expected)
    if "{file}" in args or str(file) in args:
        assert "not found" not in r.stderr


def test_a_bad_variable_is_one_line_and_exit_status_2():
    r = run("validate", str(SEEDS), env={"GRAPHSVC_MAX_DEPTH": "deep"})
    _one_line_error(r, "GRAPHSVC_MAX_DEPTH", "'deep'")


def test_a_bad_variable_under_uvicorn_factory_is_one_line_and_exit_status_2():
    """``uvicorn --factory graphsvc.server:app_from_env`` reads only the variables: a bad
    one is the same one line, not a traceback."""
    r = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "graphsvc.server:app_from_env",
         "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
        env=clean_env(GRAPHSVC_MAX_DEPTH="deep"),
    )  # fmt: skip
    _one_line_error(r, "GRAPHSVC_MAX_DEPTH", "'deep'")


def _without_root_powers() -> tuple[str, ...]:
    """A prefix that runs a command without root's power to read any folder; () for
    other users. Skips when root cannot give that power up here."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and no setpriv to drop the power to read anything")
    prefix = (setpriv, "--bounding-set", "-dac_override,-dac_read_search")
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root, and setpriv cannot drop capabilities: {probe.stderr!r}")
    return prefix


def test_an_unreadable_folder_is_one_line_and_exit_status_2(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "a.md").write_text("---\ntitle: x\n---\n")
    folder.chmod(0)
    try:
        r = run("validate", str(folder), prefix=_without_root_powers())
    finally:
        folder.chmod(0o755)
    _one_line_error(r, str(folder), "cannot read")


def test_a_port_in_use_is_said_before_any_serving_banner(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        for extra in ((), ("--workers", "2")):
            r = run(
                "serve",
                str(SEEDS),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *extra,
                env={"GRAPHSVC_CACHE_DIR": str(tmp_path / "cache")},
            )
            _one_line_error(r, f"port {port}", "in use")
            assert "GraphiQL at" not in r.stderr and "serving" not in r.stderr


def test_port_0_banner_names_the_port_it_got(tmp_path):
    """--port 0: the banner's address is the one the server answers on."""
    log = tmp_path / "serve.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "graphsvc", "serve", str(SEEDS), "--port", "0"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=clean_env(GRAPHSVC_CACHE_DIR=str(tmp_path / "cache")),
        )
    try:
        wait_for(lambda: "GraphiQL at" in log.read_text(), what="banner", timeout=60)
        url = re.search(r"GraphiQL at (http://\S+)/graphql", log.read_text()).group(1)
        assert not url.endswith(":0"), url
        wait_for(lambda: _answers(url + "/readyz"), what="readyz", timeout=60)
    finally:
        proc.terminate()
        proc.wait(30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_after_validate_says_true_things_about_the_snapshot(tmp_path):
    """`validate DIR` writes a snapshot without change state; `serve DIR`, following the
    folder, cannot use it and says so without blaming a read-only server."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    cache = {"GRAPHSVC_CACHE_DIR": str(tmp_path / "cache")}
    v = run("validate", str(corpus), env=cache)
    assert v.returncode == 0, v.stderr
    with serve(corpus, tmp=tmp_path) as s:
        log = s.logs()
    assert "written by a read-only server" not in log, log
    assert "snapshot not used: None" not in log and "None;" not in log, log
    (line,) = [x for x in log.splitlines() if "snapshot" in x and "graphsvc validate" in x]
    assert "read the files" in line, line


def test_an_existing_folder_still_loads(tmp_path):
    """The folder checks let a good folder through (with a relative path too)."""
    r = subprocess.run(
        [sys.executable, "-m", "graphsvc", "validate", "seeds", "--no-cache"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=Path(SEEDS).parent,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "0 errors" in r.stdout


# -- the phases of a load ------------------------------------------------------------------
PHASES = ("parsing 1000 files", "graph", "snapshot", "query indexes", "search index")


@pytest.fixture(scope="module")
def corpus_1000(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("c1000") / "corpus"
    r = run("generate", "--articles", "1000", "--out", str(out), "--seed", "5")
    assert r.returncode == 0, r.stderr
    return out


def test_a_large_load_names_each_phase_in_plain_lines_off_a_terminal(tmp_path, corpus_1000):
    """In CI (stderr not a terminal) each phase after parsing is a line of its own, and
    a last line gives every phase's time."""
    with serve(corpus_1000, tmp=tmp_path) as s:
        wait_for(lambda: "load phases:" in s.logs(), what="phases summary", timeout=60)
        log = s.logs()
    at = [log.index(f"graphsvc: loading: {p}\n") for p in PHASES]
    assert at == sorted(at), log
    (summary,) = [x for x in log.splitlines() if "load phases:" in x]
    for phase in ("parsing", "graph", "snapshot", "indexes", "search"):
        assert re.search(rf"\b{phase} \d+\.\ds", summary), summary


def test_a_small_load_shows_no_phases(tmp_path):
    with serve(SEEDS, tmp=tmp_path) as s:
        assert "loading:" not in s.logs() and "load phases" not in s.logs()


def _ansi_free(raw: bytes) -> list[str]:
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw.decode("utf-8", "replace"))
    return [seg for seg in re.split(r"[\r\n]", text) if seg.strip()]


def test_on_a_terminal_phases_have_rows_and_access_logs_never_print_into_them(
    tmp_path, corpus_1000
):
    import pty
    import threading
    import time

    port = free_port()
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphsvc", "serve", str(corpus_1000), "--port", str(port)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=clean_env(GRAPHSVC_CACHE_DIR=str(tmp_path / "cache"), COLUMNS="120", TERM="xterm"),
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # /readyz as a load balancer asks it
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        wait_for(lambda: b"search" in b"".join(chunks), what="search phase", timeout=60)
        time.sleep(1)
    finally:
        proc.terminate()
        proc.wait(30)
        reader.join(5)
        os.close(master)
    segments = _ansi_free(b"".join(chunks))
    rows = [s for s in segments if "━" in s]
    for phase in ("parsing", "graph", "snapshot", "indexes", "search"):
        assert any(s.startswith(f"graphsvc: {phase}") for s in rows), (phase, segments[-40:])
    access = [s for s in segments if "graphsvc.access" in s]
    assert access, segments[-40:]
    for s in access:
        assert "━" not in s and re.match(r"\d{4}-\d\d-\d\d ", s), s
