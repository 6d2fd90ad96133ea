#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Doxygen's input filter: qinfer's headers comment in plain `//` (they read as code comments,
say why, and carry no markup). For the API reference this turns, on the fly and without touching
the sources:
  - the comment block that opens a header (after the SPDX line) into the file's @file text;
  - a `//` block right above a declaration at namespace or class scope into `///`, and a trailing
    `// ...` after a member into `///< ...`.
Comments inside function bodies stay plain, so they never leak into the reference."""
import re
import sys

OPENS_SCOPE = re.compile(r'^\s*(template\s*<.*>\s*)?(inline\s+)?(namespace\b|class\b|struct\b|union\b|'
                         r'enum\b|extern\s+"C")[^;()]*\{\s*(//.*)?$')


def escape(text):
    """Comment text as Doxygen reads it literally: no backslash or at-sign commands."""
    return text.replace("\\", "\\\\").replace("@", "\\@")


def main(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = []
    stack = []  # True for a scope brace (namespace, class, ...), False for a body
    i = 0
    # The opening block (SPDX line, then `//` lines) becomes the @file text, line for line.
    if lines and lines[0].startswith("// SPDX"):
        i = 1
        while i < len(lines) and lines[i].startswith("//"):
            i += 1
        block = [escape(text[2:].removeprefix(" ")) for text in lines[1:i]]
        if block:
            out = ["/** @file"] + [" * " + text for text in block]
            out[-1] += " */"
        else:
            out = [""]

    def at_scope():
        return all(stack)

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("//") and not stripped.startswith("///") and at_scope():
            indent, text = line.split("//", 1)
            line = indent + "///" + escape(text)
        elif at_scope() and not stripped.startswith("//"):
            match = re.search(r"([;,])(\s*)//(?!/)", line)
            if match:
                line = line[: match.end() - 2] + "///<" + escape(line[match.end():])
        code = re.sub(r'"(\\.|[^"\\])*"', '""', line.split("//")[0])
        code = re.sub(r"'(\\.|[^'\\])*'", "''", code)
        scope = bool(OPENS_SCOPE.match(line))
        for ch in code:
            if ch == "{":
                stack.append(scope)
                scope = False
            elif ch == "}" and stack:
                stack.pop()
        out.append(line)
        i += 1
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
