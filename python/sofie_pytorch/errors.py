"""Exceptions raised by the converter.

Every error a user can cause derives from :class:`SofiePyTorchError`, so one
``except`` catches them all; the subclasses say which input was wrong. The C++
side keeps the class name, so PyROOT and C++ callers see the same distinction.
"""

from __future__ import annotations


class SofiePyTorchError(Exception):
    """Base class of every error the converter raises on purpose."""

    def __init__(self, message: str, *args: object) -> None:
        # File names that are not valid UTF-8 reach Python as lone surrogates; the message
        # must still be printable and convertible to a C++ std::string.
        super().__init__(printable(message), *args)


def printable(text: str) -> str:
    """text with anything that is not encodable as UTF-8 shown as a backslash escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ModelLoadError(SofiePyTorchError):
    """The file (or object) is not a PyTorch model the converter can read."""


class InputSpecError(SofiePyTorchError, ValueError):
    """The input shapes or dtypes do not fit the model or are not valid."""


class TracingError(SofiePyTorchError):
    """Torch could not run or export the model on the given inputs."""


class UnsupportedOperatorError(SofiePyTorchError):
    """The model uses operators that SOFIE cannot generate code for.

    ``operators`` maps each unsupported operator to the places it occurs.
    """

    def __init__(self, message: str, operators: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.operators = operators


class GenerationError(SofiePyTorchError):
    """The SOFIE engine could not generate code for a model it had parsed (its C++
    exception's type and whole message, and the operator it was working on)."""


class OutputError(SofiePyTorchError, OSError):
    """The generated code could not be written where it was asked to go."""
