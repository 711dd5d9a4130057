#!/usr/bin/env python3
"""Lists the longest functions of the crate's Rust sources (src/, examples/
by default), body lines from the `fn` line to its closing brace, and
exits 1 when one is over the limit (100).

    python3 scripts/fn-lengths.py [--limit 100] [--top 10] [DIR ...]

Brace matching skips string, char and comment contents; macro bodies
(`macro_rules!`) are not functions and are not counted.
"""
import argparse
import os
import re
import sys

FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")


def strip(line, state):
    """The line without string/char/comment contents; state carries block
    comments and strings across lines."""
    out = []
    i = 0
    while i < len(line):
        c = line[i]
        if state["block"]:
            if line.startswith("*/", i):
                state["block"] = False
                i += 2
            else:
                i += 1
            continue
        if state["string"]:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                state["string"] = False
            i += 1
            continue
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            state["block"] = True
            i += 2
            continue
        if c == '"':
            state["string"] = True
            i += 1
            continue
        m = re.match(r"'(\\.|[^\\'])'", line[i:])
        if m:
            i += len(m.group(0))
            continue
        out.append(c)
        i += 1
    return "".join(out)


def functions(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    state = {"block": False, "string": False}
    code = [strip(l, state) for l in lines]
    found = []
    for i, l in enumerate(code):
        m = FN.match(l)
        if not m:
            continue
        depth = 0
        opened = False
        for j in range(i, len(code)):
            for c in code[j]:
                if c == "{":
                    depth += 1
                    opened = True
                elif c == "}":
                    depth -= 1
                elif c == ";" and not opened and depth == 0:
                    break  # a declaration without a body
            else:
                if opened and depth == 0:
                    found.append((j - i + 1, path, i + 1, m.group(7)))
                    break
                continue
            break
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("dirs", nargs="*", default=["src", "examples"])
    a = ap.parse_args()
    allf = []
    for d in a.dirs:
        for root, _, files in os.walk(d):
            for f in files:
                if f.endswith(".rs"):
                    allf += functions(os.path.join(root, f))
    allf.sort(reverse=True)
    for n, path, line, name in allf[: a.top]:
        print(f"{n:5d}  {path}:{line}  {name}")
    over = [f for f in allf if f[0] > a.limit]
    print(f"{len(allf)} functions, {len(over)} over {a.limit} lines")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
