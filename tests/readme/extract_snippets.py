# SPDX-License-Identifier: Apache-2.0
"""Extracts the README's code so that tests compile it (configure time, from
tests/CMakeLists.txt). Every ```cpp and ```c block must be marked on the line before it:
  <!-- snippet: NAME -->          written to OUT_DIR/NAME.inc, which a test compiles and runs
  <!-- snippet-from: FILE -->     a quotation: every line of it must be a line of FILE
A block with neither mark, a duplicate name or a quotation that FILE no longer holds is an
error, so the README's code cannot drift from the library.
Usage: extract_snippets.py README.md SOURCE_DIR OUT_DIR"""
import os
import re
import sys


def main(readme, source_dir, out_dir):
    with open(readme, encoding="utf-8") as f:
        lines = f.read().split("\n")
    os.makedirs(out_dir, exist_ok=True)
    errors, names = [], set()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(cpp|c)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and lines[end] != "```":
            end += 1
        body = lines[start:end]
        mark = re.match(r"^<!-- snippet(-from)?: (\S+) -->$", lines[i - 1] if i > 0 else "")
        where = f"README.md:{i + 1}"
        if not mark:
            errors.append(f"{where}: a ```{fence.group(1)} block without a snippet mark")
        elif mark.group(1):
            path = os.path.join(source_dir, mark.group(2))
            try:
                with open(path, encoding="utf-8") as f:
                    known = {line.strip() for line in f.read().split("\n")}
            except OSError:
                errors.append(f"{where}: {mark.group(2)} does not exist")
                known = set()
            for line in body:
                if line.strip() and line.strip() not in known:
                    errors.append(f"{where}: not in {mark.group(2)}: {line.strip()}")
        else:
            name = mark.group(2)
            if name in names:
                errors.append(f"{where}: snippet name {name} used twice")
            names.add(name)
            text = f"// README.md line {start + 1}\n" + "\n".join(body) + "\n"
            target = os.path.join(out_dir, name + ".inc")
            # Rewrite only on change, so that an unchanged README rebuilds nothing.
            old = None
            if os.path.exists(target):
                with open(target, encoding="utf-8") as f:
                    old = f.read()
            if old != text:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text)
        i = end + 1
    if errors:
        sys.stderr.write("\n".join(errors) + "\n")
        return 1
    print(f"README snippets: {len(names)} compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
