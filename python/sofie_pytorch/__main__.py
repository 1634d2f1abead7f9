"""``python -m sofie_pytorch``: the same as the ``sofie-pytorch`` command."""

import sys

from .cli import main

sys.exit(main())
