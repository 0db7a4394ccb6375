"""The vocabulary shared by every room: small, typed, immutable records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MCQ:
    """One multiple-choice question.

    `options` hold the option texts *without* their "option N: " labels (loaders strip them, prompt
    formats add their own); `answer` is the 0-based index of the correct option.
    """

    id: str
    question: str
    options: tuple[str, ...]
    answer: int
    explanation: str = ""
    category: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def answer_label(self) -> str:
        """The answer as the official files write it ("option 3")."""
        return f"option {self.answer + 1}"
