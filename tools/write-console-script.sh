#!/usr/bin/env bash
# Writes the `sofie-pytorch` command into the make build's virtual environment: what
# `pip install .` gets from pyproject.toml's [project.scripts], for the package that the
# make build puts on the path with a .pth file instead of installing it.
# Usage: tools/write-console-script.sh <venv python> <script path>
set -euo pipefail
python="$1"
script="$2"
content="#!${python}
# Written by \`make\` (tools/write-console-script.sh): the sofie-pytorch command.
import sys
from sofie_pytorch.cli import main
sys.exit(main())"
if [ ! -f "$script" ] || [ "$(cat "$script")" != "$content" ]; then
  printf '%s\n' "$content" > "$script"
  chmod +x "$script"
fi
