"""The floor for reading a commit's documents: what git + a JSON parser cost, nothing else.

    python benchmarks/floor.py REPO [--rev HEAD] [--parser json|orjson]

One ``git ls-tree -r -z`` lists the tree; one ``git cat-file --batch
--buffer`` streams every blob (all of them, as the audit reads all of them
for the PIN scan), with the delta-base cache the audit's own reader sets; the
``.json`` blobs under experiments/ and results/ are parsed.  No validation, no
checks, no report.  Prints ``blobs=<n> parsed=<n> failed=<n> bytes=<n>`` on stdout.
"""

from __future__ import annotations

import argparse
import subprocess
import threading
from collections.abc import Callable
from typing import Any


def loader(name: str) -> Callable[[bytes], Any]:
    if name == "orjson":
        import orjson  # type: ignore[import-not-found,unused-ignore]

        return orjson.loads  # type: ignore[no-any-return,unused-ignore]
    import json

    return json.loads


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo")
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--parser", choices=("json", "orjson"), default="json")
    args = ap.parse_args(argv)
    loads = loader(args.parser)

    listing = subprocess.run(
        ["git", "-C", args.repo, "ls-tree", "-r", "-z", "--full-tree", args.rev],
        check=True,
        capture_output=True,
    ).stdout
    shas: list[bytes] = []
    parse: list[bool] = []
    for rec in listing.split(b"\0")[:-1]:
        meta, path = rec.split(b"\t", 1)
        mode, kind, sha = meta.split(b" ")
        if kind != b"blob" or mode == b"120000":
            continue
        shas.append(sha)
        parse.append(path.endswith(b".json") and path.startswith((b"experiments/", b"results/")))

    proc = subprocess.Popen(
        # With the delta-base cache expflow-git's own blob reader asks for (gitblobs.py):
        # at 100k runs git's default 96 MiB made the floor ~1.5x slower than the same read
        # the audit makes, and flattered the audit's ratio (a review, issue 18
        # twenty-fourth pass).
        [
            "git",
            "-C",
            args.repo,
            "-c",
            "core.deltaBaseCacheLimit=512m",
            "cat-file",
            "--batch",
            "--buffer",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=1 << 16,
    )
    assert proc.stdin is not None and proc.stdout is not None
    request = b"\n".join(shas) + b"\n"
    stdin = proc.stdin

    def feed() -> None:
        stdin.write(request)
        stdin.close()  # --buffer flushes its answers when stdin closes

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out = proc.stdout
    parsed = failed = total = 0
    for want in parse:
        header = out.readline()
        size = int(header.rsplit(b" ", 1)[1])
        data = out.read(size)
        out.read(1)
        total += size
        if want:
            try:
                loads(data)
            except ValueError:  # the planted invalid documents (orjson refuses NaN)
                failed += 1
            parsed += 1
    writer.join()
    proc.wait()
    print(f"blobs={len(shas)} parsed={parsed} failed={failed} bytes={total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
