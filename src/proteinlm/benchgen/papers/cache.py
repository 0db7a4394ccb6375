"""Every model call of a run, kept on disk as it completes, so a killed run asks nothing twice.

The cache is one SQLite file (RUN_DIR/calls.sqlite, WAL journal, synchronous=FULL: a row is on disk
before the next call is made). A call's key hashes (stage, item id, template SHA-256, the exact
prompt text, the model's identity, the decoding settings): a changed template, chunk text, model or
setting asks again; nothing else does. The server's address is not part of the model's identity, so
the same model moved to another host is not asked again. Failed calls (after the backend's own
retries) are not stored: a rerun tries them again.

`LLMCaller.ask` runs the missing calls of a stage at once: on HTTP backends through
`concurrency` threads, each one request of the backend's (its timeouts and tenacity retries
apply), each stored as it returns; on local backends in batches of the backend's batch size.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

from proteinlm.errors import BackendError
from proteinlm.models.base import Backend, GenerationParams, Prompt


@dataclass(frozen=True)
class Call:
    stage: str
    item_id: str
    prompt: Prompt
    template_sha: str


@dataclass(frozen=True)
class Reply:
    text: str | None  # None: the call failed (error says why)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    cached: bool = False


class CallCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, stage TEXT, item TEXT, reply TEXT)"
        )
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT reply FROM calls WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, stage: str, item: str, reply: dict) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?)",
                             (key, stage, item, json.dumps(reply, ensure_ascii=False)))

    def close(self) -> None:
        self._db.close()


def model_identity(backend: Backend) -> dict:
    """What names the model in cache keys: the backend's description without host or threads."""
    return {k: v for k, v in backend.describe().items() if k not in ("base_url", "threads", "device")}


class LLMCaller:
    """One backend's calls, through the cache; counts asked and cached calls and tokens per stage."""

    def __init__(self, backend: Backend, cache: CallCache, params: GenerationParams,
                 json_schema: dict | None = None):
        self.backend = backend
        self.cache = cache
        self.params = params
        self.json_schema = json_schema
        self.model = model_identity(backend)
        self.asked: dict[str, int] = {}
        self.from_cache: dict[str, int] = {}
        #: tokens per stage of every reply the run used, cached or not: the run's cost, the same
        #: whether or not it was interrupted
        self.tokens: dict[str, dict[str, int]] = {}

    def _count(self, stage: str, reply: "Reply") -> None:
        t = self.tokens.setdefault(stage, {"prompt": 0, "completion": 0})
        t["prompt"] += reply.prompt_tokens
        t["completion"] += reply.completion_tokens

    def key(self, call: Call, params: GenerationParams, schema: bool) -> str:
        blob = json.dumps({
            "stage": call.stage, "item": call.item_id, "template": call.template_sha,
            "prompt": [call.prompt.system, call.prompt.text, call.prompt.answer_prefix],
            "model": self.model, "params": asdict(params) | {"stop": list(params.stop)},
            "schema": self.json_schema if schema else None,
        }, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _one(self, prompts: list[Prompt], params: GenerationParams, schema: bool):
        if schema and self.json_schema is not None and self.backend.kind == "openai":
            return self.backend.generate(prompts, params, json_schema=self.json_schema)
        return self.backend.generate(prompts, params)

    def ask(self, calls: Sequence[Call], *, params: GenerationParams | None = None, schema: bool = False,
            progress: Callable[[int], None] | None = None) -> list[Reply]:
        """Replies in the order of `calls`: cached ones read back, the others asked and stored."""
        params = params or self.params
        keys = [self.key(c, params, schema) for c in calls]
        out: list[Reply | None] = [None] * len(calls)
        todo = []
        for i, key in enumerate(keys):
            hit = self.cache.get(key)
            if hit is not None:
                out[i] = Reply(hit["text"], hit["prompt_tokens"], hit["completion_tokens"], cached=True)
                self.from_cache[calls[i].stage] = self.from_cache.get(calls[i].stage, 0) + 1
            else:
                todo.append(i)
        if progress and len(todo) < len(calls):
            progress(len(calls) - len(todo))

        def store(i: int, gen) -> Reply:
            reply = {"text": gen.text, "prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens}
            self.cache.put(keys[i], calls[i].stage, calls[i].item_id, reply)
            self.asked[calls[i].stage] = self.asked.get(calls[i].stage, 0) + 1
            return Reply(**reply)

        if self.backend.kind == "openai":
            workers = max(1, min(getattr(self.backend, "concurrency", 1), len(todo)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(self._one, [calls[i].prompt], params, schema): i for i in todo}
                for fut in as_completed(futures):
                    i = futures[fut]
                    try:
                        out[i] = store(i, fut.result()[0])
                    except BackendError as exc:  # retries exhausted: this item fails, the run goes on
                        out[i] = Reply(None, error=str(exc))
                    if progress:
                        progress(1)
        else:
            size = max(1, getattr(self.backend, "batch_size", 1))
            for s in range(0, len(todo), size):
                batch = todo[s:s + size]
                gens = self._one([calls[i].prompt for i in batch], params, schema)
                for i, gen in zip(batch, gens):
                    out[i] = store(i, gen)
                if progress:
                    progress(len(batch))
        for call, reply in zip(calls, out):
            if reply is not None and reply.text is not None:
                self._count(call.stage, reply)
        return out  # type: ignore[return-value]
