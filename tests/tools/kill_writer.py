"""A writer to be killed: rewrites article files with graphsvc's atomic_write, forever.

Usage: python kill_writer.py FOLDER FILES FIRST_GENERATION

Prints "ready" once imported, then writes generation g, g+1, ... of every file.
Each version is complete only if its body is exactly :func:`body` of its generation.
"""

from __future__ import annotations

import os
import sys


def body(i: int, gen: int) -> str:
    # 40 to 500 KB: writes large enough for a kill to land in the middle of one.
    lines = 1000 + (gen * 7919 + i * 104729) % 12000
    return f"file {i} generation {gen}\n" * lines + f"END {i} {gen}\n"


def front_matter(i: int, gen: int) -> dict:
    return {
        "webUrl": f"https://kill.example/{i}",
        "title": f"File {i} generation {gen}",
        "generation": gen,
    }


def text(i: int, gen: int) -> str:
    from graphsvc.files.write import render

    return render(front_matter(i, gen), body(i, gen))


def main(folder: str, files: int, first: int) -> None:
    from graphsvc.files.write import atomic_write

    print("ready", flush=True)
    gen = first
    while True:
        for i in range(files):
            atomic_write(os.path.join(folder, f"{i:02d}.md"), text(i, gen).encode())
        gen += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
