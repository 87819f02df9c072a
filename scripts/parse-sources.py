#!/usr/bin/env python3
"""Parses every Swift file under ios/ with tree-sitter-swift and every Kotlin file under android/
with tree-sitter-kotlin, and fails on any syntax error. No Swift compiler can be installed on
these machines, so this is how the generated Swift bindings (and later the app's sources) are
checked here; the Kotlin is also compiled for real by the JVM tests (android/bindings).

    python3 scripts/parse-sources.py [folders or files...]      (default: ios android)

Before parsing, three things that the compilers accept but the grammars do not are rewritten
into equivalent text, keeping every line and column where it was, so that a reported error is
always a real one:

- comments are blanked out (tree-sitter-kotlin 1.1 loses its way after some KDoc blocks, e.g.
  a `*/ fun` on one line, and then reports errors in valid code far away);
- `#if swift(>=X)` ... `#endif` with no `#else`, for X up to the package's minimum Swift
  version (5.9, ios/Package.swift), is resolved as the compiler resolves it: the directive lines
  go, the body stays (tree-sitter-swift 0.7 cannot parse a directive around an attribute alone);
- the closure `{ () }` becomes the equivalent `{ }` (tree-sitter-swift 0.7 cannot parse `()` as a
  closure's only expression).
"""

import pathlib
import re
import sys

import tree_sitter
import tree_sitter_kotlin
import tree_sitter_swift

ROOT = pathlib.Path(__file__).resolve().parent.parent
SWIFT = tree_sitter.Language(tree_sitter_swift.language())
KOTLIN = tree_sitter.Language(tree_sitter_kotlin.language())
LANGUAGES = {".swift": SWIFT, ".kt": KOTLIN, ".kts": KOTLIN}
MIN_SWIFT = (5, 9)
SKIP = {"build", "target", ".build", ".gradle"}


def blank(text: bytes) -> bytes:
    """The same text with everything but line breaks turned into spaces."""
    return re.sub(rb"[^\n]", b" ", text)


def without_comments(source: bytes) -> bytes:
    """The source with its comments blanked. A small lexer rather than the grammar finds them,
    since the grammar's own error recovery is what goes wrong around them: it skips string
    literals (with their `${...}` and `\\(...)` interpolations) and nests block comments."""
    out = bytearray(source)
    n = len(source)

    def code(i: int, closer: bytes) -> int:
        """Scans code from `i` until the unbalanced `closer` (or the end); returns past it."""
        depth = 0
        while i < n:
            if source.startswith(b"//", i):
                end = source.find(b"\n", i)
                end = n if end < 0 else end
                out[i:end] = blank(source[i:end])
                i = end
            elif source.startswith(b"/*", i):
                end, nested = i + 2, 1
                while end < n and nested:
                    if source.startswith(b"/*", end):
                        nested, end = nested + 1, end + 2
                    elif source.startswith(b"*/", end):
                        nested, end = nested - 1, end + 2
                    else:
                        end += 1
                out[i:end] = blank(source[i:end])
                i = end
            elif source.startswith(b'"""', i):
                i = string(i + 3, b'"""')
            elif source[i:i + 1] == b'"':
                i = string(i + 1, b'"')
            elif source[i:i + 1] == b"'":
                end = i + 1
                while end < n and source[end:end + 1] not in (b"'", b"\n"):
                    end += 2 if source[end:end + 1] == b"\\" else 1
                i = end + 1
            elif closer and source[i:i + 1] in (b"(", b"{"):
                depth, i = depth + 1, i + 1
            elif closer and source[i:i + 1] in (b")", b"}"):
                if depth == 0:
                    return i + 1
                depth, i = depth - 1, i + 1
            else:
                i += 1
        return i

    def string(i: int, quote: bytes) -> int:
        """Skips a string literal's body from `i`; returns past its closing quote."""
        while i < n:
            if source.startswith(quote, i):
                return i + len(quote)
            if source.startswith(b"${", i) or source.startswith(b"\\(", i):
                i = code(i + 2, b"}" if source[i:i + 1] == b"$" else b")")
            elif source[i:i + 1] == b"\\":
                i += 2
            elif source[i:i + 1] == b"\n" and quote == b'"':
                return i
            else:
                i += 1
        return i

    code(0, b"")
    return bytes(out)


def resolve_swift_version_checks(source: bytes) -> bytes:
    lines = source.split(b"\n")
    for i, line in enumerate(lines):
        match = re.fullmatch(rb"\s*#if swift\(>=(\d+)\.(\d+)\)\s*", line)
        if not match or (int(match[1]), int(match[2])) > MIN_SWIFT:
            continue
        depth = 0
        for j in range(i + 1, len(lines)):
            directive = lines[j].strip()
            if directive.startswith(b"#if"):
                depth += 1
            elif directive.startswith((b"#else", b"#elseif")) and depth == 0:
                break
            elif directive.startswith(b"#endif"):
                if depth == 0:
                    lines[i], lines[j] = blank(lines[i]), blank(lines[j])
                    break
                depth -= 1
    return b"\n".join(lines)


def normalised(path: pathlib.Path) -> bytes:
    source = without_comments(path.read_bytes())
    if path.suffix == ".swift":
        source = resolve_swift_version_checks(source)
        source = re.sub(rb"\{ \(\) \}", b"{    }", source)
    return source


def problems(tree):
    """Where the tree has ERROR or MISSING nodes, as (line, column, kind), in file order."""
    found, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            found.append((node.start_point[0] + 1, node.start_point[1] + 1, "missing" if node.is_missing else "error"))
        elif node.has_error:
            stack.extend(node.children)
    if tree.root_node.has_error and not found:
        found.append((1, 1, "error"))
    return sorted(found)


def sources(roots):
    for root in roots:
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix in LANGUAGES and path.is_file() and not SKIP & set(path.relative_to(root).parts):
                yield path


def main(argv):
    roots = [pathlib.Path(a) for a in argv] or [ROOT / "ios", ROOT / "android"]
    counts = {SWIFT: 0, KOTLIN: 0}
    failed = 0
    for path in sources(roots):
        language = LANGUAGES[path.suffix]
        counts[language] += 1
        tree = tree_sitter.Parser(language).parse(normalised(path))
        found = problems(tree)
        for line, column, kind in found[:10]:
            print(f"{path}:{line}:{column}: syntax {kind}", file=sys.stderr)
        failed += len(found) > 0
    if sum(counts.values()) == 0:
        print("parse-sources: no Swift or Kotlin files found", file=sys.stderr)
        return 1
    print(f"parse-sources: {counts[SWIFT]} Swift and {counts[KOTLIN]} Kotlin files parsed, "
          f"{failed} with syntax errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
