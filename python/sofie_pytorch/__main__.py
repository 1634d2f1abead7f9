"""``python -m sofie_pytorch``: the same as the ``sofie-pytorch`` command."""

import sys

from .cli import main

if __name__ == "__main__":  # multiprocessing's spawn re-imports the main module
    sys.exit(main())
