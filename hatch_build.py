"""Build the browser code into the wheel: GraphiQL's files and the map page's bundle.

hatchling runs this for every wheel, editable or not (``pip install .``, ``pip install
-e .``). It installs the npm packages pinned in ``js/package-lock.json`` into
``build/js`` (npm's own cache makes a second install take seconds), copies GraphiQL's
files as Strawberry's page names them, bundles ``js/src/*.js`` with esbuild, and writes
it all to ``graphsvc/api/static/vendor/`` (gitignored; never committed). An editable
install serves that folder in place; a wheel carries it as build artifacts.

Without Node.js/npm, or when npm fails (no registry), the install still succeeds: the
folder then holds only ``MISSING.json`` saying why, and the pages and the server's
start-up log say what is missing and the command that fixes it.

``python hatch_build.py`` runs the same build by hand.
"""

from __future__ import annotations

import hashlib
import json
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
FIX = "apt-get install -y nodejs npm && pip install ."


def _lock_hash(js: Path) -> str:
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json", ".npmrc"):
        p = js / name
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def _npm_install(root: Path, log) -> Path:
    """node_modules for js/package-lock.json in build/js (reused while the lock is unchanged)."""
    js, work = root / "js", root / "build" / "js"
    stamp = work / "node_modules" / ".graphsvc-lock"
    want = _lock_hash(js)
    if stamp.is_file() and stamp.read_text() == want:
        return work / "node_modules"
    work.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", ".npmrc"):
        shutil.copyfile(js / name, work / name)
    npm = shutil.which("npm")
    t0 = time.monotonic()
    cmd = [npm, "ci", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"]
    r = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"`{' '.join(cmd[:2])}` failed: " + " | ".join(tail))
    log(f"graphsvc: npm ci took {time.monotonic() - t0:.1f}s")
    stamp.write_text(want)
    return work / "node_modules"


def build(root: Path, log=print) -> dict:
    """Fill ``root/VENDOR``; returns what ``BUILD.json`` or ``MISSING.json`` says."""
    root = Path(root)
    out = root / VENDOR
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    spec = json.loads((root / "js" / "package.json").read_text())
    try:
        if shutil.which("node") is None or shutil.which("npm") is None:
            missing = [n for n in ("node", "npm") if shutil.which(n) is None]
            raise RuntimeError(f"{' and '.join(missing)} not found on PATH")
        modules = _npm_install(root, log)
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
        esbuild = modules / ".bin" / "esbuild"
        src_copy = modules.parent / "src"  # next to node_modules, so imports resolve
        if src_copy.exists():
            shutil.rmtree(src_copy)
        shutil.copytree(root / "js" / "src", src_copy)
        for src, name in spec["graphsvc"]["bundles"].items():
            cmd = [
                str(esbuild),
                str(modules.parent / src),
                "--bundle",
                "--minify",
                "--format=iife",
                "--target=es2020",
                "--legal-comments=none",
                f"--outfile={out / name}",
                "--log-level=warning",
            ]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"esbuild {src} failed: {r.stderr.strip()[:800]}")
        for package in (
            "sigma",
            "graphology",
            "graphology-layout-forceatlas2",
            "@sigma/node-border",
        ):
            versions[package] = json.loads((modules / package / "package.json").read_text())[
                "version"
            ]
        info = {"built": True, "versions": versions}
        (out / "BUILD.json").write_text(json.dumps(info, indent=1) + "\n")
        log(f"graphsvc: built the browser code into {VENDOR}")
        return info
    except (OSError, RuntimeError, KeyError, ValueError) as err:
        shutil.rmtree(out)
        out.mkdir(parents=True)
        info = {"built": False, "reason": str(err), "fix": FIX}
        (out / "MISSING.json").write_text(json.dumps(info, indent=1) + "\n")
        log(
            f"graphsvc: WARNING: the map page's and GraphiQL's JavaScript were not built "
            f"({err}); the install goes on without them. Fix: {FIX}"
        )
        return info


class JsBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        build(Path(self.root), log=lambda m: self.app.display_info(m))
        build_data["artifacts"].append(f"/{VENDOR.as_posix()}/")


if __name__ == "__main__":
    info = build(Path(__file__).resolve().parent)
    sys.exit(0 if info["built"] else 1)
