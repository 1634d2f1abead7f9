"""Checking that a TorchScript archive's tensor data is as long as its metadata says.

torch.jit.load (torch 2.13) trusts the element counts written in data.pkl and
constants.pkl: a storage record shorter than its count (a truncated or corrupted file,
found by the fuzzer) loads without error and the first convolution then reads past the
end of the buffer and kills the process with a segmentation fault. Here the pickles are
read with an unpickler that resolves every class to an inert stand-in (so no code from
the file can run), the storages they reference are collected, and each record's size is
compared with what the metadata claims, before torch sees the file.
"""

from __future__ import annotations

import io
import pickle
import zipfile

from ..errors import ModelLoadError

# Bytes per element of torch's typed storages; an unknown type counts as 1 byte, the
# smallest possible element, so the check stays a valid lower bound.
_ELEMENT_SIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1,
    "ByteStorage": 1, "BoolStorage": 1, "ComplexFloatStorage": 8,
    "ComplexDoubleStorage": 16, "QInt32Storage": 4,
}


class _Inert:
    """What every class named in the pickle becomes: accepts anything, does nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.args = args

    def __setstate__(self, state: object) -> None:
        self.state = state

    def __setitem__(self, key: object, value: object) -> None:
        pass

    def append(self, value: object) -> None:
        pass

    def extend(self, values: object) -> None:
        pass


class _StorageCollector(pickle.Unpickler):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.storages: dict[str, tuple[str, int]] = {}

    def find_class(self, module: str, name: str) -> type:
        return type(name, (_Inert,), {})

    def persistent_load(self, pid: object) -> object:
        if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage":
            kind = getattr(pid[1], "__name__", "")
            self.storages[str(pid[2])] = (kind, int(pid[4]))
        return _Inert()


def check_torchscript_storages(data: bytes, label: str) -> None:
    """Raise ModelLoadError if a storage record is shorter than its element count says."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
            for name in sizes:
                root, _, tail = name.partition("/")
                if tail not in ("data.pkl", "constants.pkl"):
                    continue
                collector = _StorageCollector(archive.read(name))
                collector.load()
                for key, (kind, count) in collector.storages.items():
                    folder = "data" if tail == "data.pkl" else "constants"
                    record = f"{root}/{folder}/{key}"
                    needed = count * _ELEMENT_SIZE.get(kind, 1)
                    have = sizes.get(record, sizes.get(f"{root}/data/{key}"))
                    if have is None or have < needed:
                        raise ModelLoadError(
                            f"{label}: tensor data {record!r} holds {have or 0} bytes but the "
                            f"model says {needed}: the file is truncated or corrupted; save it "
                            f"again with torch.jit.save"
                        )
    except ModelLoadError:
        raise
    except Exception:  # noqa: BLE001 - unreadable metadata: torch.jit.load reports it
        return
