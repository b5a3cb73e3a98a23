#!/usr/bin/env python3
"""check_layers.py - src/ and tools/ read as layers: no circles.

Derives two graphs from the C sources and fails (exit 1) on a cycle in
either:
  - the #include graph of files (a header including itself, indirectly);
  - the call graph of modules: a module is a family of .c files sharing a
    name before the first '_' or digit (fs.c, fs_data.c, fs_ns.c... are
    "fs"; seg.c and seg_read.c are "seg"; blob_local.c is "blob"), an edge
    A -> B means a function defined in B is called (or its address taken)
    in A. Functions are found by their definitions at the start of a line;
    calls by "name(" or "&name" outside comments and strings.
With --dot it prints the module graph in Graphviz form instead.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRS = ["src", "tools"]

def strip(text):
    # comments and string/char literals out, newlines kept
    out = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"),
                 text, flags=re.S)
    out = re.sub(r"//[^\n]*", "", out)
    out = re.sub(r'"(\\.|[^"\\\n])*"', '""', out)
    out = re.sub(r"'(\\.|[^'\\\n])*'", "''", out)
    return out

def module_of(path):
    base = os.path.basename(path)
    d = os.path.basename(os.path.dirname(path))
    if base.startswith("tierfs-fsck"):
        base = "fsck.c"         # the fsck program is one module
    name = re.split(r"[_.\d-]", base, maxsplit=1)[0]
    return "%s/%s" % (d, name)

DEF = re.compile(r"^(?:static\s+)?(?:inline\s+)?[A-Za-z_][\w \t\*]*?\b"
                 r"([A-Za-z_]\w*)\s*\([^;]*?\)\s*\{", re.M | re.S)
USE = re.compile(r"(?<![\w.>])&?\s*([A-Za-z_]\w*)\s*\(|&\s*([A-Za-z_]\w*)")
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "defined",
            "else", "do", "case", "main"}

def sccs(graph):
    """Strongly connected components with more than one node."""
    index, low, on, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out

def find_cycle(graph):
    """A cycle (list of nodes) in graph {node: set(nodes)}, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {n: WHITE for n in graph}
    stack = []

    def visit(n):
        color[n] = GREY
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if color.get(m, WHITE) == GREY:
                return stack[stack.index(m):] + [m]
            if color.get(m, WHITE) == WHITE:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        color[n] = BLACK
        return None

    for n in sorted(graph):
        if color[n] == WHITE:
            c = visit(n)
            if c:
                return c
    return None

def main():
    files = []
    for d in DIRS:
        for f in sorted(os.listdir(os.path.join(ROOT, d))):
            if f.endswith((".c", ".h")):
                files.append(os.path.join(ROOT, d, f))
    texts = {f: open(f, encoding="utf-8", errors="replace").read()
             for f in files}

    # include graph (by file name; tools/ may include src/ headers)
    by_name = {}
    for f in files:
        by_name.setdefault(os.path.basename(f), f)
    inc = {f: set() for f in files}
    for f, t in texts.items():
        for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', t, re.M):
            g = by_name.get(os.path.basename(m.group(1)))
            if g:
                inc[f].add(g)

    # call graph of modules
    defs = {}
    stripped = {f: strip(t) for f, t in texts.items() if f.endswith(".c")}
    for f, t in stripped.items():
        for m in DEF.finditer(t):
            name = m.group(1)
            if name in KEYWORDS:
                continue
            if re.search(r"\bstatic\b", t[m.start():m.start(1)]):
                continue
            defs.setdefault(name, set()).add(module_of(f))
    calls = {}
    where = {}
    for f, t in stripped.items():
        a = module_of(f)
        calls.setdefault(a, set())
        for m in USE.finditer(t):
            name = m.group(1) or m.group(2)
            for b in defs.get(name, ()):
                if b != a:
                    calls[a].add(b)
                    where.setdefault((a, b), "%s: %s" % (
                        os.path.relpath(f, ROOT), name))

    if "--dot" in sys.argv:
        print("digraph layers {")
        for a in sorted(calls):
            for b in sorted(calls[a]):
                print('  "%s" -> "%s";' % (a, b))
        print("}")
        return 0

    bad = 0
    c = find_cycle(inc)
    if c:
        print("include cycle: " + " -> ".join(
            os.path.relpath(x, ROOT) for x in c))
        bad = 1
    for comp in sccs(calls):
        sub = {a: calls[a] & set(comp) for a in comp}
        c = find_cycle(sub)
        print("call cycle between modules (%s): %s" % (
            " ".join(comp), " -> ".join(c)))
        for a, b in zip(c, c[1:]):
            print("  %s -> %s (e.g. %s)" % (a, b, where[(a, b)]))
        bad = 1
    if not bad:
        print("layers ok: %d files, %d modules, no include or call cycle"
              % (len(files), len(calls)))
    return bad

if __name__ == "__main__":
    sys.exit(main())
