"""Peak resident memory of torch running one zoo model: a fresh process per model.

    python bench/torch_memory.py MODEL BATCH     (prints the peak RSS in kB)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from zoo import BY_NAME


def main() -> int:
    torch.set_num_threads(1)
    model = BY_NAME[sys.argv[1]]
    batch = int(sys.argv[2])
    module, x = model.module(), model.example(batch)
    with torch.inference_mode():
        for _ in range(10):
            module(x)
    # VmHWM: ru_maxrss would include the parent's memory, carried over exec by Linux
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            print(line.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
