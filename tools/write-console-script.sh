#!/usr/bin/env bash
# Writes the `sofie-pytorch` command into the make build's virtual environment: what
# `pip install .` gets from pyproject.toml's [project.scripts], for the package that the
# make build puts on the path with a .pth file instead of installing it.
# Like pip's scripts, the call sits under `if __name__ == "__main__":`: Python's
# multiprocessing (spawn, which Dask's nannies use for `score --workers`) re-imports the
# main script in every child process, and an unguarded script would start the command
# again there ("Nanny failed to start").
# Usage: tools/write-console-script.sh <venv python> <script path>
set -euo pipefail
python="$1"
script="$2"
content="#!${python}
# Written by \`make\` (tools/write-console-script.sh): the sofie-pytorch command.
import sys

from sofie_pytorch.cli import main

if __name__ == \"__main__\":
    sys.exit(main())"
if [ ! -f "$script" ] || [ "$(cat "$script")" != "$content" ]; then
  printf '%s\n' "$content" > "$script.tmp.$$"
  chmod +x "$script.tmp.$$"
  mv -f "$script.tmp.$$" "$script"
fi
