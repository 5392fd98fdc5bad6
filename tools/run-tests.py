#!/usr/bin/env python3
"""Runs the workspace's tests: one build, then the test binaries side by side.

`cargo test --workspace` runs its test binaries one after the other. Most of ours wait on anvil,
a proxy or a relayer process (the CLI, relayer and bindings end-to-end suites), while the
contract suites (revm, 1,000-case invariants) keep the CPU busy; running them side by side
roughly halves the wall time on a 2-core machine without changing what any test does.

    tools/run-tests.py [--jobs N] [-- ARGS for every test binary]

1. `cargo test --workspace --exclude xtask --locked --no-run` builds every test target once, in
   one feature set (`make gas-check` runs the `gas-report` binary this build made, so nothing is
   built twice). `xtask` is left out of it: `cargo xtask` builds it (and foundry-compilers) on its
   own, and `cargo test -p xtask` reuses that build as one more job.
2. Each test binary runs as cargo would run it (working directory = its package, the
   `CARGO_MANIFEST_DIR`/`CARGO_PKG_NAME` environment), at most `--jobs` at a time, the longest
   ones first; the doc tests (`cargo test --workspace --exclude xtask --doc`) and xtask's tests
   run as two more jobs.
3. Each job's output is printed whole when it ends (never interleaved), then a summary with
   every job's time. The exit status is non-zero when any job failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# Test binaries known to take longest, started first (package, target name). Anything else runs
# in the order cargo reports it.
LONGEST_FIRST = [
    ("shiftpay-tests", "payroll"),
    ("shiftpay-tests", "escrow"),
    ("shiftpay-relayer", "it"),
    ("shiftpay-cli", "it"),
]


@dataclass
class Job:
    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    returncode: int | None = None
    seconds: float = 0.0
    output: str = ""


def cargo() -> str:
    return os.environ.get("CARGO", "cargo")


# `cargo test` arguments selecting what the one build covers (also used by the Makefile).
SELECTION = ["--workspace", "--exclude", "xtask", "--locked"]


def build(root: Path) -> list[Job]:
    """Builds every test target and returns one job per test binary."""
    cmd = [cargo(), "test", *SELECTION, "--no-run", "--message-format=json-render-diagnostics"]
    print("+ " + " ".join(cmd[:-1]), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(proc.returncode)
    jobs = []
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") != "compiler-artifact" or not msg.get("profile", {}).get("test"):
            continue
        exe = msg.get("executable")
        if not exe:
            continue
        manifest = Path(msg["manifest_path"])
        package = package_name(msg["package_id"], manifest)
        target = msg["target"]["name"]
        kind = msg["target"]["kind"][0]
        env = dict(os.environ)
        env["CARGO_MANIFEST_DIR"] = str(manifest.parent)
        env["CARGO_PKG_NAME"] = package
        env["CARGO"] = cargo()
        jobs.append(Job(f"{package} {kind} {target}", [exe], manifest.parent, env))

    def rank(job: Job) -> int:
        package, _, target = job.name.split(" ", 2)
        key = (package, target)
        return LONGEST_FIRST.index(key) if key in LONGEST_FIRST else len(LONGEST_FIRST)

    jobs.sort(key=rank)
    jobs.append(Job("doc tests", [cargo(), "test", *SELECTION, "--doc"], root, dict(os.environ)))
    jobs.append(Job("xtask tests", [cargo(), "test", "-p", "xtask", "--locked"], root,
                    dict(os.environ)))
    return jobs


def package_name(package_id: str, manifest: Path) -> str:
    """The package's name from cargo's package id (`path+file:///..#name@0.1.0` or older forms)."""
    if "#" in package_id:
        tail = package_id.rsplit("#", 1)[1]
        return tail.split("@", 1)[0] if "@" in tail else manifest.parent.name
    return package_id.split(" ", 1)[0]


def run(job: Job, extra: list[str], lock: threading.Lock) -> Job:
    start = time.monotonic()
    with lock:
        print(f"started  {job.name}", file=sys.stderr, flush=True)
    argv = job.argv + (extra if not job.argv[0] == cargo() else [])
    proc = subprocess.run(argv, cwd=job.cwd, env=job.env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace")
    job.returncode = proc.returncode
    job.output = proc.stdout
    job.seconds = time.monotonic() - start
    with lock:
        status = "ok" if job.returncode == 0 else f"FAILED (exit {job.returncode})"
        print(f"\n===== {job.name}: {status} in {job.seconds:.1f}s =====", flush=True)
        print(job.output, end="" if job.output.endswith("\n") else "\n", flush=True)
    return job


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("SHIFTPAY_TEST_JOBS", "3")),
                        help="test binaries at a time (default 3, or SHIFTPAY_TEST_JOBS)")
    parser.add_argument("extra", nargs="*", help="arguments for every test binary (after --)")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    started = time.monotonic()
    jobs = build(root)
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = list(pool.map(lambda job: run(job, args.extra, lock), jobs))
    failed = [job for job in done if job.returncode != 0]
    print(f"\n{len(done)} test jobs, {len(failed)} failed, "
          f"{time.monotonic() - started:.1f}s in all (build included):", flush=True)
    for job in sorted(done, key=lambda j: -j.seconds):
        mark = "ok    " if job.returncode == 0 else "FAILED"
        print(f"  {mark} {job.seconds:7.1f}s  {job.name}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
