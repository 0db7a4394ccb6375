"""Local transformers backend: a model directory, a hub id, or a single `.gguf` file.

Scoring and generation run through `PrefixRunner`: the text shared by all prompts of a call (the
instructions) is computed once and cached, each prompt's own text once per prompt, and option
continuations on top of it. Batches are sorted by length so padding stays small.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

import torch

from proteinlm.errors import BackendError
from proteinlm.hub_access import forced_offline, hub_unreachable, offline_requested
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
from proteinlm.models.kv import PrefixRunner, Segment, common_prefix_len
from proteinlm.models.smollm2 import gguf_cache_dir

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

Progress = Callable[[int], None]


class HFBackend(Backend):
    kind = "hf"

    def __init__(
        self,
        model: str,
        *,
        gguf_file: str | None = None,
        dtype: str = "auto",
        threads: int | None = None,
        trust_remote_code: bool = False,
        chat: bool | None = None,
        batch_size: int = 8,
        device: str = "auto",
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        path = Path(model)
        source = model
        if gguf_file is None and path.suffix == ".gguf":
            if not path.is_file():
                raise BackendError(f"GGUF file not found: {path}")
            source, gguf_file = str(path.parent), path.name
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            # The checkpoint's own dtype, as transformers and lm-evaluation-harness do (a GGUF file
            # dequantises to float32), so scores agree with the field's harness.
            torch_dtype = "auto"
        elif dtype in DTYPES:
            torch_dtype = DTYPES[dtype]
        else:
            raise BackendError(f"unknown dtype {dtype!r}: use auto, {', '.join(DTYPES)}")
        extra = {"gguf_file": gguf_file} if gguf_file else {}
        # A LoRA adapter directory (e.g. `train --lora --no-merge`): its base plus the adapter, merged in memory.
        base_dir = _adapter_base(path) if gguf_file is None else None
        weights = weights_fingerprint(Path(source) / gguf_file if gguf_file else path)
        converted = gguf_cache_dir(Path(source) / gguf_file) if gguf_file else None
        if converted is not None and (converted / "config.json").is_file():
            source, extra = str(converted), {}
        # A hub id is loaded offline (from the cache, or failing at once) when the user asks for that or
        # the Hub is unreachable, instead of after the hub client's retries (~45 s).
        remote = [s for s in (source, base_dir) if s and not Path(s).exists()]
        unreachable = "" if not remote or offline_requested() else hub_unreachable()
        try:
            with forced_offline(bool(remote) and (offline_requested() or bool(unreachable))):
                tok_source = base_dir if base_dir and not (path / "tokenizer_config.json").is_file() else source
                self.tokenizer = AutoTokenizer.from_pretrained(
                    tok_source, trust_remote_code=trust_remote_code, **extra
                )
                self.model = AutoModelForCausalLM.from_pretrained(
                    base_dir or source, trust_remote_code=trust_remote_code, dtype=torch_dtype, **extra
                )
                if base_dir:
                    self.model = _with_adapter(self.model, path)
                if converted is not None and extra:
                    save_converted(self.model, self.tokenizer, converted)
        except Exception as exc:  # noqa: BLE001 - loading errors come in many types
            hint = ""
            if not path.exists():
                hint = (
                    f" (not a local path; if this is a hub id, the hub may be unreachable: {unreachable}"
                    "pass a local model directory or .gguf file)"
                )
            raise BackendError(f"cannot load model {model!r}{hint}: {exc}") from exc
        if device == "cpu" and self.model.dtype == torch.float16:
            self.model = self.model.float()  # many CPU kernels lack float16
        self.model.to(device).eval()
        self.device = device
        self.name = model
        self.gguf_file = gguf_file
        self.weights = weights
        self.dtype = str(self.model.dtype).removeprefix("torch.")
        self.batch_size = max(1, batch_size)
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if chat and not has_template:
            raise BackendError(f"{model}: chat mode asked for, but the tokenizer has no chat template")
        self.chat = has_template if chat is None else chat
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0
        self.runner = PrefixRunner(self.model, pad)
        self._shared: tuple[tuple[int, ...], Segment] | None = None
        self.eos_ids = self._eos_ids()

    # ------------------------------------------------------------------ text and tokens
    def render(self, prompt: Prompt) -> str:
        if not self.chat:
            return super().render(prompt)
        text = self.tokenizer.apply_chat_template(chat_messages(prompt), tokenize=False, add_generation_prompt=True)
        return text + prompt.answer_prefix

    def encode(self, text: str) -> list[int]:
        # Rendered chat prompts already carry their special tokens as text.
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        return split_continuation(context, continuation, self.encode)

    def _eos_ids(self) -> set[int]:
        ids = set()
        for source in (self.tokenizer.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        for tok in END_OF_TURN_TOKENS:
            tid = self.tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id and tid >= 0:
                ids.add(tid)
        return ids

    # ------------------------------------------------------------------ shared prefix
    def _shared_prefix(self, seqs: Sequence[Sequence[int]], limit: int) -> Segment | None:
        """The cached segment for the text every sequence starts with (computed once, reused
        across calls while it still prefixes the new sequences)."""
        if self._shared is not None:
            toks, seg = self._shared
            n = len(toks)
            if n <= limit and all(tuple(s[:n]) == toks for s in seqs):
                return seg
        n = min(common_prefix_len(seqs), limit)
        if n < 16:  # not worth a separate pass
            return None
        toks = tuple(seqs[0][:n])
        self._shared = (toks, self.runner.start(toks))
        return self._shared[1]

    def _batches(self, order: list[int]) -> list[list[int]]:
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    # ------------------------------------------------------------------ loglikelihood
    def loglikelihood(
        self,
        prompts: Sequence[Prompt],
        continuations: Sequence[Sequence[str]],
        progress: Progress | None = None,
    ) -> list[LoglikResult]:
        items = []  # per prompt: (context ids, [continuation ids])
        for prompt, conts in zip(prompts, continuations, strict=True):
            context = self.render(prompt)
            pairs = [self._encode_pair(context, c) for c in conts]
            if any(not cont for _, cont in pairs):
                raise BackendError(f"empty continuation after tokenisation in {conts!r}")
            items.append((pairs[0][0], [cont for _, cont in pairs], [ctx for ctx, _ in pairs]))
        # Each pair's model input is ctx + cont[:-1]; the prompt's own part is what all its
        # options share, and at least the context minus its last token (whose logits we need).
        inputs = [[ctx + cont[:-1] for ctx, cont in zip(ctxs, conts)] for _, conts, ctxs in items]
        own_len = [common_prefix_len(seqs) for seqs in inputs]
        first_target = [min(len(c) for c in ctxs) - 1 for _, _, ctxs in items]
        own_len = [max(o, f + 1) for o, f in zip(own_len, first_target)]
        shared = self._shared_prefix([seqs[0] for seqs in inputs], min(first_target))
        base_len = 0 if shared is None else int(shared.next_pos[0])

        results: list[LoglikResult | None] = [None] * len(items)
        order = sorted(range(len(items)), key=lambda i: -own_len[i])
        for batch in self._batches(order):
            tails = [inputs[i][0][base_len : own_len[i]] for i in batch]
            want = [list(range(first_target[i] - base_len, own_len[i] - base_len)) for i in batch]
            base = self.runner.expand(shared, len(batch)) if shared is not None else None
            seg, own_logps = self.runner.extend(base, tails, want)
            for row, i in enumerate(batch):
                results[i] = self._score_item(seg, row, inputs[i], items[i], own_len[i], first_target[i], own_logps[row])
            if progress:
                progress(len(batch))
        return results  # type: ignore[return-value]

    def _score_item(self, seg: Segment, row: int, inputs, item, own_len: int, first: int, own_logp):
        """Scores of one prompt's continuations; option tokens past the shared part run on top of the
        prompt's cached segment, all options of the prompt in one batch."""
        _, conts, ctxs = item
        rest = [seq[own_len:] for seq in inputs]
        extra = {}
        need = [j for j, r in enumerate(rest) if r]
        if need:
            base = seg.rows([row] * len(need))
            _, logps = self.runner.extend(base, [rest[j] for j in need], [list(range(len(rest[j]))) for j in need])
            extra = dict(zip(need, logps))
        scores = []
        for j, (cont, ctx) in enumerate(zip(conts, ctxs)):
            total, greedy = 0.0, True
            for k, tok in enumerate(cont):
                pos = len(ctx) - 1 + k  # input position whose output predicts this token
                lp = own_logp[pos - first] if pos < own_len else extra[j][pos - own_len]
                total += float(lp[tok])
                greedy = greedy and int(lp.argmax()) == tok
            scores.append(ContinuationScore(total, len(cont), greedy))
        return LoglikResult(tuple(scores), len(ctxs[0]))

    # ------------------------------------------------------------------ generation
    def generate(
        self, prompts: Sequence[Prompt], params: GenerationParams, progress: Progress | None = None
    ) -> list[Generation]:
        ids = [self.encode(self.render(p)) for p in prompts]
        shared = self._shared_prefix(ids, min(len(s) for s in ids) - 1) if ids else None
        base_len = 0 if shared is None else int(shared.next_pos[0])
        gen = torch.Generator().manual_seed(params.seed)
        out: list[Generation | None] = [None] * len(ids)
        for batch in self._batches(sorted(range(len(ids)), key=lambda i: -len(ids[i]))):
            base = self.runner.expand(shared, len(batch)) if shared is not None else None
            tails = [ids[i][base_len:] for i in batch]
            seg, logps = self.runner.extend(base, tails, [[len(t) - 1] for t in tails])
            replies = self._decode_loop(seg, [lp[0] for lp in logps], params, gen)
            for i, (text, new) in zip(batch, replies):
                meta = {}
                if params.decode_prompt:
                    meta["decoded_with_prompt"] = self.tokenizer.decode(ids[i] + new, skip_special_tokens=True)
                out[i] = Generation(text, len(ids[i]), len(new), meta)
            if progress:
                progress(len(batch))
        return out  # type: ignore[return-value]

    def _pick(self, logp: torch.Tensor, params: GenerationParams, gen: torch.Generator) -> int:
        if params.temperature <= 0:
            return int(logp.argmax())
        probs = torch.softmax(logp / params.temperature, dim=-1)
        if params.top_p < 1.0:
            sorted_p, idx = probs.sort(descending=True)
            keep = sorted_p.cumsum(0) - sorted_p < params.top_p
            probs = torch.zeros_like(probs).scatter(0, idx[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=gen))

    def _decode_loop(self, seg: Segment, first: list[torch.Tensor], params, gen) -> list[tuple[str, list[int]]]:
        """Each row's reply text (cut at the stop strings) and its new tokens."""
        rows = len(first)
        stop_re = stop_regex(params)
        check_text = bool(params.stop) or stop_re is not None
        new_tokens: list[list[int]] = [[] for _ in range(rows)]
        active = list(range(rows))  # rows of the original batch still held in the cache
        finished: set[int] = set()
        logps = first
        while True:
            for slot, r in enumerate(active):
                if r in finished:
                    continue
                tok = self._pick(logps[slot], params, gen)
                if tok in self.eos_ids:
                    finished.add(r)
                    continue
                new_tokens[r].append(tok)
                done = len(new_tokens[r]) >= params.max_new_tokens
                if check_text and not done:
                    text = self.tokenizer.decode(new_tokens[r], skip_special_tokens=True)
                    done = reached_stop(text, params, stop_re)
                if done:
                    finished.add(r)
            live = [slot for slot, r in enumerate(active) if r not in finished]
            if not live:
                break
            # Drop finished rows once they are a quarter of the batch: every later step then pays
            # only for live rows, and the cache copy that dropping costs is not paid at every finish.
            if len(active) - len(live) >= max(1, len(active) // 4):
                seg = seg.rows(live)
                active = [active[s] for s in live]
            # finished rows still in the batch get a masked-out filler token
            step = [[self.runner.pad_id if r in finished else new_tokens[r][-1]] for r in active]
            seg, logps_rows = self.runner.extend(seg, step, [[0]] * len(active), masked=[r in finished for r in active])
            logps = [lp[0] for lp in logps_rows]
        results = []
        for toks in new_tokens:
            text = self.tokenizer.decode(toks, skip_special_tokens=True)
            results.append((cut_at_stops(text, params.stop), toks))
        return results

    def describe(self) -> dict:
        return {
            "backend": self.kind,
            "model": self.name,
            "gguf_file": self.gguf_file,
            "weights": self.weights,
            "chat": self.chat,
            "dtype": self.dtype,
            "device": self.device,
            "threads": torch.get_num_threads(),
        }


def _adapter_base(path: Path) -> str | None:
    config = path / "adapter_config.json"
    if not config.is_file():
        return None
    import json

    base = json.loads(config.read_text()).get("base_model_name_or_path")
    if not base:
        raise BackendError(f"{path}: the adapter does not name its base model (merge it with `proteinlm train merge`)")
    return base


def _with_adapter(model, adapter: Path):
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise BackendError(f"{adapter} is a LoRA adapter: install peft (pip install 'proteinlm[train]')") from exc
    return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()


def save_converted(model, tokenizer, target: Path) -> None:
    """Save atomically (temp dir + rename) so a killed run never leaves a half-written cache."""
    import shutil
    import tempfile

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
        # A GGUF-loaded model is flagged as quantized although its weights are already plain
        # dequantised tensors; transformers refuses to save it while the flag is set.
        model.hf_quantizer, model.is_quantized = None, False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(target)
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be written only costs speed
        log.warning("could not cache the converted GGUF model in %s: %s", target, exc)
        shutil.rmtree(tmp, ignore_errors=True)
