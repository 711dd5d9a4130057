#!/usr/bin/env python3
"""Builds lelp's API docs with rustdoc over the rlibs of a release build that
already exists, instead of `cargo doc` (which type-checks every dependency
again in its own mode: about 7 minutes of burn on two cores).

Usage: scripts/doc-from-build.py FEATURES [TARGET SELECTION...]
  FEATURES: the comma-separated features of a `cargo test --release
  --no-run [TARGET SELECTION...]` that has already run in
  $CARGO_TARGET_DIR (or ./target), e.g. `--lib --tests`. The
  artifacts are read from that same command (fresh, so nothing is
  compiled): a `cargo build` would resolve features without the
  dev-dependencies and build burn's tree once more.
Runs rustdoc with warnings denied into $CARGO_TARGET_DIR/doc; exits non-zero
on any warning or a missing artifact.
"""
import json
import os
import subprocess
import sys

features = sys.argv[1] if len(sys.argv) > 1 else ""
selection = sys.argv[2:]
feature_args = ["--features", features] if features else []
target = os.environ.get("CARGO_TARGET_DIR", "target")

meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", *feature_args],
    check=True, capture_output=True, text=True).stdout)
root = meta["resolve"]["root"]
pkg = next(p for p in meta["packages"] if p["id"] == root)
node = next(n for n in meta["resolve"]["nodes"] if n["id"] == root)
normal = [d for d in node["deps"] if any(k["kind"] is None for k in d["dep_kinds"])]
active = set(node["features"])

# every unit of the test build, fresh or not, reports its artifacts
out = subprocess.run(
    ["cargo", "test", "--release", "--no-run", *feature_args, *selection, "--message-format=json"],
    check=True, capture_output=True, text=True).stdout
artifacts = {}
for line in out.splitlines():
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact":
        kinds = msg["target"]["kind"]
        if "lib" in kinds or "rlib" in kinds or "proc-macro" in kinds:
            artifacts[msg["package_id"]] = msg["filenames"]

externs = []
for dep in normal:
    files = artifacts.get(dep["pkg"])
    if files is None:
        sys.exit(f"doc-from-build: no artifact for dependency {dep['name']} ({dep['pkg']})")
    lib = next((f for f in files if f.endswith((".rlib", ".so"))), None)
    if lib is None:
        sys.exit(f"doc-from-build: no rlib among {files}")
    externs += ["--extern", f"{dep['name']}={lib}"]

lib_target = next(t for t in pkg["targets"] if "lib" in t["kind"])
cmd = ["rustdoc", "--edition", pkg["edition"], "--crate-type", "lib",
       "--crate-name", lib_target["name"].replace("-", "_"), lib_target["src_path"],
       "-o", os.path.join(target, "doc"),
       "-L", f"dependency={os.path.join(target, 'release', 'deps')}",
       "--crate-version", pkg["version"], "-D", "warnings", *externs]
for f in sorted(active):
    cmd += ["--cfg", f'feature="{f}"']
env = dict(os.environ, CARGO_PKG_VERSION=pkg["version"], CARGO_PKG_NAME=pkg["name"],
           CARGO_MANIFEST_DIR=os.path.dirname(pkg["manifest_path"]),
           CARGO_CRATE_NAME=lib_target["name"].replace("-", "_"))
subprocess.run(cmd, check=True, env=env)
print(f"doc-from-build: {os.path.join(target, 'doc', lib_target['name'].replace('-', '_'), 'index.html')}")
