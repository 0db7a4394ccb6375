"""One interface for every model backend (local transformers, OpenAI-compatible HTTP, llama.cpp).

A backend does two things, both batched: score continuations (`loglikelihood`) and produce text
(`generate`). Prompts arrive as `Prompt` objects, not strings, because only the backend knows how
to render a chat turn for its model (a local chat template, or a server-side chat endpoint).
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence


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
    #: also decode the prompt's tokens with the reply's, in one tokenizer call, into
    #: Generation.meta["decoded_with_prompt"]: the text the published evaluator strips the prompt from
    decode_prompt: bool = False


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


# ---------------------------------------------------------------- shared by the backends
#: end-of-turn tokens of common chat templates: generation stops at them as at EOS
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")


def chat_messages(prompt: Prompt) -> list[dict]:
    """The prompt as chat turns: the system message (if any), then the user turn."""
    system = [{"role": "system", "content": prompt.system}] if prompt.system else []
    return system + [{"role": "user", "content": prompt.text}]


def split_continuation(
    context: str, continuation: str, encode: Callable[[str], list[int]]
) -> tuple[list[int], list[int]]:
    """lm-evaluation-harness's split: trailing context spaces move into the continuation, and the
    continuation's tokens are those of context+continuation past the context's tokens."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    ctx = encode(context)
    whole = encode(context + continuation)
    return ctx, whole[len(ctx):]


def stop_regex(params: GenerationParams) -> re.Pattern | None:
    return re.compile(params.stop_regex) if params.stop_regex else None


def reached_stop(text: str, params: GenerationParams, stop_re: re.Pattern | None) -> bool:
    """Whether generated `text` holds a stop string or matches the stop regex."""
    return any(s in text for s in params.stop) or bool(stop_re and stop_re.search(text))


def cut_at_stops(text: str, stops: Sequence[str]) -> str:
    """`text` up to the first of the stop strings it holds (tried in order)."""
    for s in stops:
        if s in text:
            text = text[: text.index(s)]
    return text


_WEIGHT_FILES = ("*.safetensors", "*.bin", "*.gguf", "*.pt", "*.pth")


def weights_fingerprint(path: Path) -> str | None:
    """Names, sizes and modification times of a local model's weight files, hashed: part of the
    bench cache key, so a model retrained into the same directory is asked again, not answered
    from the old weights' cache. None for hub ids (their revision names the weights)."""
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted({f for pat in _WEIGHT_FILES for f in path.glob(pat)})
    else:
        return None
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return hashlib.sha256(repr(stats).encode()).hexdigest()[:16]
