"""llama.cpp backend (llama-cpp-python): a `.gguf` file run by llama.cpp's own kernels, in its
quantised form. The hf backend dequantises a GGUF to float32, which for a 7B model means ~28 GB;
here a Q4 7B model needs ~4 GB and runs several times faster on a CPU.

Scores and sampling are ours, computed from the logits llama.cpp returns, so that `loglikelihood`
follows lm-evaluation-harness's rules and `generate` samples as the hf backend does (greedy at
temperature 0, else temperature + top-p with a seeded generator). Inputs are decoded through
llama.cpp's batch API asking logits only for the positions that are scored or sampled from:
llama-cpp-python's own `logits_all` mode would compute and copy the vocabulary-sized output layer
at every position and hold n_ctx × vocabulary floats (0.8 GB for SmolLM2 at 4096 tokens).
Consecutive inputs reuse llama.cpp's KV cache for the tokens they share with the previous one
(the instructions every question starts with, a question's options).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from proteinlm.errors import BackendError
from proteinlm.models.base import (
    END_OF_TURN_TOKENS,
    Backend,
    ContinuationScore,
    Generation,
    GenerationParams,
    LoglikResult,
    Prompt,
    chat_messages,
    cut_at_stops,
    reached_stop,
    split_continuation,
    stop_regex,
    weights_fingerprint,
)

Progress = Callable[[int], None]


def _log_softmax(row: np.ndarray) -> np.ndarray:
    row = row.astype(np.float64)
    m = row.max()
    return row - (m + np.log(np.exp(row - m).sum()))


class LlamaCppBackend(Backend):
    kind = "llamacpp"

    def __init__(
        self,
        model: str,
        *,
        threads: int | None = None,
        chat: bool | None = None,
        n_ctx: int = 4096,
        n_batch: int = 512,
    ):
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise BackendError(
                f"the llamacpp backend needs llama-cpp-python ({exc}): pip install 'proteinlm[llamacpp]'"
            ) from exc
        path = Path(model)
        if not path.is_file():
            raise BackendError(f"GGUF file not found: {path} (the llamacpp backend reads a local .gguf file)")
        try:
            self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_batch=n_batch, n_threads=threads, verbose=False)
        except Exception as exc:  # noqa: BLE001 - llama.cpp reports load failures as ValueError/RuntimeError
            raise BackendError(f"cannot load GGUF model {model!r} with llama.cpp: {exc}") from exc
        self.name = model
        self.weights = weights_fingerprint(path)
        self.n_ctx = self.llm.n_ctx()
        meta = self.llm.metadata
        self.add_bos = meta.get("tokenizer.ggml.add_bos_token", "false") == "true"
        template = meta.get("tokenizer.chat_template")
        if chat and not template:
            raise BackendError(f"{model}: chat mode asked for, but the GGUF file has no chat template")
        self.chat = bool(template) if chat is None else chat
        self._formatter = None
        if self.chat:
            piece = lambda t: self.llm.detokenize([t], special=True).decode("utf-8", "replace")  # noqa: E731
            self._formatter = Jinja2ChatFormatter(
                template=template, eos_token=piece(self.llm.token_eos()), bos_token=piece(self.llm.token_bos())
            )
        self._held: list[int] = []  # the tokens in llama.cpp's KV cache (sequence 0)
        self._logits: dict[int, np.ndarray] = {}  # position -> logits after tokens[: position + 1]
        self.eos_ids = {self.llm.token_eos()}
        for tok in END_OF_TURN_TOKENS:
            ids = self.llm.tokenize(tok.encode(), add_bos=False, special=True)
            if len(ids) == 1:
                self.eos_ids.add(ids[0])

    # ------------------------------------------------------------------ text and tokens
    def render(self, prompt: Prompt) -> str:
        if not self.chat:
            return super().render(prompt)
        return self._formatter(messages=chat_messages(prompt)).prompt + prompt.answer_prefix

    def encode(self, text: str) -> list[int]:
        """Tokens of an input that starts with `text`; special tokens written as text (a rendered
        chat turn) become special tokens. BOS is added where the model asks for it (GGUF metadata)
        and the text does not carry it already."""
        ids = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        bos = self.llm.token_bos()
        if self.add_bos and (not ids or ids[0] != bos):
            ids = [bos] + ids
        return ids

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        return split_continuation(context, continuation, self.encode)

    def _check_fits(self, n: int) -> None:
        if n > self.n_ctx:
            raise BackendError(
                f"an input of {n} tokens does not fit the context of {self.n_ctx} tokens (raise --n-ctx)"
            )

    def _run(self, tokens: list[int], want: Sequence[int]) -> list[np.ndarray]:
        """Make llama.cpp's KV cache hold `tokens` and return the logits at the positions `want`
        (the logits at position i predict token i + 1). Only what differs from the tokens held now
        is decoded, plus any wanted position whose logits were not kept."""
        import llama_cpp

        if len(self._logits) > 4096:  # rows of finished inputs: let them go
            self._logits.clear()
        same, limit = 0, min(len(self._held), len(tokens))
        while same < limit and self._held[same] == tokens[same]:
            same += 1
        missing = [p for p in want if p < same and p not in self._logits]
        if missing:
            same = min(missing)
        if same < len(tokens):
            self._logits = {p: v for p, v in self._logits.items() if p < same}
            ctx, batch = self.llm.ctx, self.llm._batch.batch
            llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), 0, same, -1)
            wanted = set(want)
            n_vocab, step = self.llm.n_vocab(), self.llm.n_batch
            for lo in range(same, len(tokens), step):
                part = tokens[lo : lo + step]
                flags = [lo + i in wanted for i in range(len(part))]
                batch.n_tokens = len(part)
                for i, tok in enumerate(part):
                    batch.token[i], batch.pos[i], batch.n_seq_id[i] = tok, lo + i, 1
                    batch.seq_id[i][0], batch.logits[i] = 0, flags[i]
                if (rc := llama_cpp.llama_decode(ctx, batch)) != 0:
                    self._held = tokens[:lo]
                    raise BackendError(f"llama.cpp could not decode the input (llama_decode returned {rc})")
                for i, flag in enumerate(flags):
                    if flag:
                        row = llama_cpp.llama_get_logits_ith(ctx, i)
                        self._logits[lo + i] = np.ctypeslib.as_array(row, shape=(n_vocab,)).copy()
            self._held = list(tokens)
        return [self._logits[p] for p in want]

    # ------------------------------------------------------------------ loglikelihood
    def loglikelihood(
        self, prompts: Sequence[Prompt], continuations: Sequence[Sequence[str]], progress: Progress | None = None
    ) -> list[LoglikResult]:
        results = []
        for prompt, conts in zip(prompts, continuations, strict=True):
            context = self.render(prompt)
            scores, n_prompt = [], None
            for cont in conts:
                ctx, toks = self._encode_pair(context, cont)
                if not toks:
                    raise BackendError(f"empty continuation after tokenisation in {cont!r}")
                if not ctx:
                    raise BackendError("an empty context cannot be scored (nothing predicts the first token)")
                seq = ctx + toks
                self._check_fits(len(seq))
                rows = self._run(seq[:-1], range(len(ctx) - 1, len(seq) - 1))
                total, greedy = 0.0, True
                for tok, logits in zip(toks, rows):
                    total += float(_log_softmax(logits)[tok])
                    greedy = greedy and int(logits.argmax()) == tok
                scores.append(ContinuationScore(total, len(toks), greedy))
                n_prompt = len(ctx) if n_prompt is None else n_prompt
            results.append(LoglikResult(tuple(scores), n_prompt or 0))
            if progress:
                progress(1)
        return results

    # ------------------------------------------------------------------ generation
    def _pick(self, logits: np.ndarray, params: GenerationParams, rng: np.random.Generator) -> int:
        if params.temperature <= 0:
            return int(logits.argmax())
        logp = _log_softmax(logits / params.temperature)
        probs = np.exp(logp)
        if params.top_p < 1.0:
            order = np.argsort(-probs, kind="stable")
            sorted_p = probs[order]
            keep = np.cumsum(sorted_p) - sorted_p < params.top_p
            probs = np.zeros_like(probs)
            probs[order[keep]] = sorted_p[keep]
        probs /= probs.sum()
        return int(rng.choice(len(probs), p=probs))

    def generate(
        self, prompts: Sequence[Prompt], params: GenerationParams, progress: Progress | None = None
    ) -> list[Generation]:
        stop_re = stop_regex(params)
        check_text = bool(params.stop) or stop_re is not None
        out = []
        for i, prompt in enumerate(prompts):
            ids = self.encode(self.render(prompt))
            self._check_fits(len(ids) + 1)
            rng = np.random.default_rng([params.seed, i])  # seeded per call and position
            seq = list(ids)
            new: list[int] = []
            while len(new) < params.max_new_tokens and len(seq) < self.n_ctx:
                (logits,) = self._run(seq, [len(seq) - 1])
                tok = self._pick(logits, params, rng)
                if tok in self.eos_ids:
                    break
                new.append(tok)
                if check_text and reached_stop(self._text(new), params, stop_re):
                    break
                seq.append(tok)
            meta = {"decoded_with_prompt": self._text(ids + new)} if params.decode_prompt else {}
            out.append(Generation(cut_at_stops(self._text(new), params.stop), len(ids), len(new), meta))
            if progress:
                progress(1)
        return out

    def _text(self, tokens: list[int]) -> str:
        return self.llm.detokenize(tokens).decode("utf-8", errors="replace")

    def describe(self) -> dict:
        return {
            "backend": self.kind,
            "model": self.name,
            "weights": self.weights,
            "chat": self.chat,
            "n_ctx": self.n_ctx,
            "threads": self.llm.n_threads,
        }

    def close(self) -> None:
        self.llm.close()
