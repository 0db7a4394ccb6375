"""Shared-prefix forward passes over a transformers causal LM.

Benchmark prompts repeat a lot of text: every question starts with the same instructions (and chat
system turn), and every option of a question repeats the question. Running that text once and
reusing its key/value cache is what makes `loglik-norm` and `generate` several times faster than
running each (question, option) pair from scratch.

Rows in a batch are right-padded, and later segments are appended *after* the padding. The padded
slots stay masked out (attention mask 0) and positions are passed explicitly, so a row's tokens see
exactly what they would see in an unpadded, uncached pass; tests check this against a plain forward.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Sequence

import torch


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix shared by every sequence."""
    if not seqs:
        return 0
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for other in seqs[1:]:
        i = 0
        while i < n and other[i] == first[i]:
            i += 1
        n = i
        if n == 0:
            break
    return n


def select_cache_rows(cache, rows: torch.Tensor):
    """A new cache holding `rows` (may repeat) of `cache`; the source cache is left untouched."""
    new = copy.copy(cache)
    if hasattr(cache, "layers"):  # transformers >= 4.56
        new.layers = []
        for layer in cache.layers:
            lay = copy.copy(layer)
            if getattr(layer, "keys", None) is not None and layer.keys.numel():
                lay.keys = layer.keys.index_select(0, rows)
                lay.values = layer.values.index_select(0, rows)
            new.layers.append(lay)
    else:  # older DynamicCache with key_cache / value_cache lists
        new.key_cache = [k.index_select(0, rows) for k in cache.key_cache]
        new.value_cache = [v.index_select(0, rows) for v in cache.value_cache]
    return new


@dataclass
class Segment:
    """The state of a batch after a forward pass: its cache, mask and next positions per row."""

    cache: object
    mask: torch.Tensor  # [rows, kv_len] 1 for real tokens, 0 for padding holes
    next_pos: torch.Tensor  # [rows] position id of each row's next token

    def rows(self, index: Sequence[int]) -> "Segment":
        idx = torch.as_tensor(list(index), dtype=torch.long)
        return Segment(select_cache_rows(self.cache, idx), self.mask.index_select(0, idx), self.next_pos[idx])


class PrefixRunner:
    """Runs token segments on top of cached prefixes, returning only the logits asked for."""

    def __init__(self, model, pad_id: int):
        self.model = model
        self.pad_id = pad_id
        self.device = next(model.parameters()).device
        params = inspect.signature(model.forward).parameters
        self._keep_arg = "logits_to_keep" if "logits_to_keep" in params else None
        # transformers 5 names the key/value cache `cache` (argument and output field); passing or
        # reading `past_key_values` there warns that the name will be removed
        self._cache_name = "cache" if "cache" in params else "past_key_values"

    @torch.inference_mode()
    def extend(
        self,
        base: Segment | None,
        tails: Sequence[Sequence[int]],
        want: Sequence[Sequence[int]],
        masked: Sequence[bool] | None = None,
    ) -> tuple[Segment, list[torch.Tensor]]:
        """Append one right-padded tail per row of `base` (or start fresh) and run the model.

        want[r] lists positions *within tail r* whose next-token log-probabilities are needed;
        returns them as one [len(want[r]), vocab] tensor per row. Rows flagged in `masked` are
        fillers (a finished generation kept in the batch): their tokens are masked out.
        """
        n = len(tails)
        width = max(len(t) for t in tails)
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        new_mask = torch.zeros((n, width), dtype=torch.long)
        for r, t in enumerate(tails):
            ids[r, : len(t)] = torch.as_tensor(t, dtype=torch.long)
            new_mask[r, : len(t)] = 0 if masked and masked[r] else 1
        start = base.next_pos if base is not None else torch.zeros(n, dtype=torch.long)
        positions = start[:, None] + torch.arange(width)[None, :]
        mask = new_mask if base is None else torch.cat([base.mask, new_mask], dim=1)
        kwargs = dict(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            use_cache=True,
        )
        kwargs[self._cache_name] = base.cache if base is not None else None
        # Only the wanted positions go through the LM head: a full [rows, width, vocab] float
        # tensor would cost more memory than the model itself for long prompts.
        keep = sorted({p for w in want for p in w})
        if self._keep_arg and keep:
            kwargs[self._keep_arg] = torch.as_tensor(keep, dtype=torch.long, device=self.device)
            column = {p: i for i, p in enumerate(keep)}
        else:
            column = {p: p for p in range(width)}
        out = self.model(**kwargs)
        logits = out.logits
        picked = []
        for r, w in enumerate(want):
            if not w:
                picked.append(torch.empty(0))
                continue
            cols = torch.as_tensor([column[p] for p in w], dtype=torch.long, device=logits.device)
            picked.append(torch.log_softmax(logits[r].index_select(0, cols).float(), dim=-1).cpu())
        lengths = torch.as_tensor([len(t) for t in tails], dtype=torch.long)
        seg = Segment(out[self._cache_name], mask, start + lengths)
        return seg, picked

    def start(self, prefix: Sequence[int]) -> Segment:
        """Run a shared prefix once (batch of one); rows are gathered from it later."""
        seg, _ = self.extend(None, [list(prefix)], [[]])
        return seg

    def expand(self, seg: Segment, rows: int) -> Segment:
        return seg.rows([0] * rows)
