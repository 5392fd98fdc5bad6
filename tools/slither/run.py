#!/usr/bin/env python3
"""`make slither`: Slither over contracts/src, failing on any High or Medium finding.

Run with the project venv's Python (`.venv/bin/python tools/slither/run.py`; `make slither` creates
the venv). Extra arguments after `--` go to slither as they are, e.g.
`.venv/bin/python tools/slither/run.py -- --print human-summary`.

Why a script and not a bare `slither contracts/src --solc tools/solc ...`:

* npm's solc-js (behind tools/solc) has no `--combined-json`, which crytic-compile's plain `solc`
  mode needs, so the compile must go through standard JSON (`--compile-force-framework solc-json`).
* In that mode crytic-compile ignores `--solc-args`: evm version and optimizer runs can only be set
  inside the standard-JSON input. This script writes that input (target/slither/input.json) with
  every .sol file under `src` and the compiler settings of foundry.toml, which `make forge-check`
  keeps identical to xtask/src/contracts.rs: slither compiles exactly what the build compiles.
* crytic-compile finds foundry.toml and runs `forge config --json` (node_modules/.bin/forge from
  `make deps`); that only confirms the solc path (tools/solc) and the remappings we pass anyway.
* `slither.config.json` at the repository root holds slither's own options (OpenZeppelin filtered
  out by `filter_paths`, `fail_on`, unused `slither-disable` comments reported). Slither prints
  every finding, informational ones included; its full text goes to target/slither/slither.log and
  this script prints the gating (High, Medium) findings and a one-line summary.

Exit status: 0 clean, 1 High or Medium findings, 2 slither itself failed (a compile error, or a
function slither could not turn into its IR and so did not analyse).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

GATING = ("High", "Medium")
IMPACT_ORDER = ("High", "Medium", "Low", "Informational", "Optimization")


def standard_json_input(root: Path) -> dict:
    """The solc standard-JSON input for every .sol file under foundry.toml's `src`."""
    with open(root / "foundry.toml", "rb") as f:
        profile = tomllib.load(f)["profile"]["default"]
    src = root / profile["src"]
    sources = sorted(p.relative_to(root).as_posix() for p in src.rglob("*.sol"))
    if not sources:
        sys.exit(f"slither: no .sol files under {src}")
    settings: dict = {
        "evmVersion": profile["evm_version"],
        "optimizer": {"enabled": bool(profile["optimizer"]), "runs": int(profile["optimizer_runs"])},
        "remappings": list(profile.get("remappings", [])),
        # crytic-compile's own default selection; slither works from the AST.
        "outputSelection": {
            "*": {
                "*": ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode"],
                "": ["ast"],
            }
        },
    }
    if profile.get("via_ir"):
        settings["viaIR"] = True
    return {"language": "Solidity", "sources": {s: {"urls": [s]} for s in sources}, "settings": settings}


def location(result: dict) -> str:
    """`file#line` (or `file#first-last`) of a finding's most specific element (a statement rather
    than its whole function)."""
    spans = [
        (e["source_mapping"]["filename_relative"], e["source_mapping"]["lines"])
        for e in result.get("elements", [])
        if e.get("source_mapping", {}).get("lines")
    ]
    if not spans:
        return result.get("first_markdown_element", "?")
    file, lines = min(spans, key=lambda span: len(span[1]))
    return f"{file}#{lines[0]}" if len(lines) == 1 else f"{file}#{lines[0]}-{lines[-1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2],
                        help="repository root (default: this checkout)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also stream slither's own output (every finding) to the terminal")
    parser.add_argument("slither_args", nargs="*", help="extra slither arguments (after --)")
    args = parser.parse_args()
    root: Path = args.root.resolve()

    out = root / "target" / "slither"
    out.mkdir(parents=True, exist_ok=True)
    input_json, results_json, log = out / "input.json", out / "results.json", out / "slither.log"
    input_json.write_text(json.dumps(standard_json_input(root), indent=2) + "\n")
    results_json.unlink(missing_ok=True)

    bin_dir = root / "node_modules" / ".bin"
    if not (bin_dir / "forge").exists() or not (root / "node_modules" / "solc" / "solc.js").exists():
        print("slither: node_modules is missing forge or solc-js: run `make deps` first", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    slither = Path(sys.executable).parent / "slither"
    cmd = [
        str(slither), input_json.relative_to(root).as_posix(),
        "--compile-force-framework", "solc-json",
        "--config-file", "slither.config.json",
        "--json", results_json.relative_to(root).as_posix(),
        *args.slither_args,
    ]
    started = time.monotonic()
    with open(log, "w") as log_file:
        log_file.write("$ " + " ".join(cmd) + "\n")
        log_file.flush()
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log_file.write(line)
            if args.verbose:
                sys.stderr.write(line)
        status = proc.wait()
    elapsed = time.monotonic() - started
    rel_log = log.relative_to(root).as_posix()

    try:
        report = json.loads(results_json.read_text())
    except (OSError, json.JSONDecodeError):
        report = None
    if not report or not report.get("success"):
        if not args.verbose:
            sys.stderr.write("".join(log.read_text().splitlines(keepends=True)[-40:]))
        error = (report or {}).get("error") or f"exit status {status}, no JSON report"
        print(f"slither: FAILED to analyse contracts ({error.strip()}); full log: {rel_log}",
              file=sys.stderr)
        return 2

    # Slither logs an IR failure and goes on without that function, so its detectors would pass
    # over it unseen (an overloaded library function did this once): a partial analysis fails too.
    lines = log.read_text().splitlines()
    ir_failures = [f"{line.strip()} {lines[i + 1].strip() if i + 1 < len(lines) else ''}"
                   for i, line in enumerate(lines) if line.startswith("Impossible to generate IR")]
    if ir_failures:
        for failure in ir_failures:
            print(f"slither: {failure}", file=sys.stderr)
        print(f"slither: FAILED: no IR for {len(ir_failures)} function(s), so they were not analysed; "
              f"full log: {rel_log}", file=sys.stderr)
        return 2

    findings = report.get("results", {}).get("detectors", [])
    # Unused `slither-disable` comments in our sources (OpenZeppelin's own are not our business).
    unused = sorted({
        (Path(u.get("file", "?")).resolve().relative_to(root).as_posix()
         if Path(u.get("file", "?")).resolve().is_relative_to(root) else u.get("file", "?"),
         u.get("line", 0), u.get("comment_type", "?"), ",".join(u.get("unused_detectors", [])))
        for f in findings if f.get("check") == "unused-ignore-directive"
        for u in f.get("unused_ignores", [])
        if "/node_modules/" not in u.get("file", "")
    })
    findings = [f for f in findings if f.get("check") != "unused-ignore-directive"]
    gating = [f for f in findings if f.get("impact") in GATING]
    gating.sort(key=lambda f: (IMPACT_ORDER.index(f["impact"]), f["check"], location(f)))
    for f in gating:
        print(f"[{f['impact']}] {f['check']} ({f.get('confidence', '?')} confidence) {location(f)}")
        for line in f.get("description", "").strip().splitlines():
            print(f"    {line}")
        print(f"    {f.get('reference', '')}")
    for file, line, kind, detectors in unused:
        print(f"slither: warning: {file}#{line}: slither-disable-{kind} {detectors} "
              "suppresses nothing: remove it")

    by_impact = collections.Counter(f.get("impact") for f in findings)
    rest = collections.Counter(f.get("check") for f in findings if f.get("impact") not in GATING)
    rest_text = ", ".join(f"{check} {n}" for check, n in sorted(rest.items()))
    print(
        f"slither: High={by_impact['High']} Medium={by_impact['Medium']} "
        f"({sum(rest.values())} low/informational not gating{': ' + rest_text if rest_text else ''}) "
        f"in {elapsed:.0f}s; full report: {rel_log}"
    )
    if gating:
        print("slither: fix the findings above, or suppress a false positive with "
              "`// slither-disable-next-line DETECTOR -- reason` on the line before it", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
