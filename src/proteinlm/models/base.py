"""One interface for every model backend (local transformers, OpenAI-compatible HTTP, llama.cpp).

A backend does two things, both batched: score continuations (`loglikelihood`) and produce text
(`generate`). Prompts arrive as `Prompt` objects, not strings, because only the backend knows how
to render a chat turn for its model (a local chat template, or a server-side chat endpoint).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Sequence


@dataclass(frozen=True)
class Prompt:
    """A single-turn prompt.

    text:          the user turn (or the whole raw prompt when the backend does not use a chat format)
    system:        optional system message
    answer_prefix: text the answer starts with, appended after the rendered prompt; used when scoring
                   continuations (e.g. "The correct option is Option"), empty for free generation
    """

    text: str
    system: str | None = None
    answer_prefix: str = ""


@dataclass(frozen=True)
class ContinuationScore:
    """Log-likelihood of one continuation given its prompt."""

    logprob: float  # sum of the natural-log probabilities of the continuation's tokens
    n_tokens: int  # how many tokens the continuation took
    is_greedy: bool = False  # every continuation token was the argmax (lm-eval's `is_greedy`)


@dataclass(frozen=True)
class LoglikResult:
    scores: tuple[ContinuationScore, ...]
    prompt_tokens: int  # tokens in the rendered prompt (what a plain forward pass would read)


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 32
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    seed: int = 1234
    stop: tuple[str, ...] = ()
    #: stop a row once its text matches this regex (e.g. a complete "The correct option is Option 3.");
    #: local backends stop generating there; servers cannot, so their text is cut after the match
    stop_regex: str | None = None


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    meta: dict = field(default_factory=dict, compare=False)


class Backend(ABC):
    """Base class of all backends. Subclasses set `name` (the model) and `kind` (the backend)."""

    kind: str = "base"
    name: str = ""
    #: whether prompts are sent as chat turns (chat template / chat endpoint) rather than raw text
    chat: bool = False

    @abstractmethod
    def loglikelihood(
        self, prompts: Sequence[Prompt], continuations: Sequence[Sequence[str]]
    ) -> list[LoglikResult]:
        """For each prompt i, score every string in continuations[i] as what follows the prompt."""

    @abstractmethod
    def generate(self, prompts: Sequence[Prompt], params: GenerationParams) -> list[Generation]:
        """Produce one completion per prompt."""

    def render(self, prompt: Prompt) -> str:
        """The exact text the model reads (chat template applied where the backend uses one)."""
        parts = [prompt.system, prompt.text] if prompt.system else [prompt.text]
        return "\n\n".join(parts) + prompt.answer_prefix

    def describe(self) -> dict:
        """What identifies this model and backend in run records and cache keys."""
        return {"backend": self.kind, "model": self.name, "chat": self.chat}

    def close(self) -> None:  # pragma: no cover - trivial default
        """Release resources (HTTP clients, threads)."""
