"""An OpenAI-compatible server that plays generator and validator of `benchgen from-papers` from a
script (tests and benchmarks/bench_benchgen.py; standard library only).

It reads the default prompt templates (benchgen/papers/prompts/) and answers by kind of prompt:

* question prompt: the chunk (between the Passage quotes) is looked up in `script` by its first 60
  characters; the behaviour found (default `default_behaviour`) decides the reply:
    good            a question built from the chunk's longest sentence, quoted verbatim
    malformed_once  broken JSON; the repair prompt then gets the good question
    malformed       broken JSON, and broken again on repair
    bad_quote       a good question whose evidence quote is invented (not in the chunk)
    other_article   a question about a sentence of `other_text` (another article), quoting a
                    sentence of this chunk: it passes every check but evidence
    bad_options     one option only
    long_explanation an explanation of 150 words
    incoherent      a question whose correct option and explanation do not answer it
    duplicate       the question of `duplicate_text`'s longest sentence (another chunk's), quoting a
                    sentence of this chunk: a near-duplicate across the run
    server_error    HTTP 500 every time (the call fails after the client's retries)
    wrong_answer    a good question worded "...findings is stated..." which the validator, given
                    the passage, answers wrongly
* re-answer prompts (the official ProteinLMBench prompt): the correct option is the one not among
  DISTRACTORS; with the passage (a "Context:" block) it is chosen (a wrong one for wrong_answer
  questions), closed-book the reply is "option 7" (unsure), options-only the first distractor.

`hold_after = (kind, n)`: once n requests of that kind ("generate", "repair", "reanswer") have been
answered, every later request is held without an answer until `release()`, so a test can kill the
client at a known point. `answered` lists (kind, prompt) of each request answered in full.
`response_format` json_schema is accepted (recorded); `reject_schema = True` answers it with 400.
"""

from __future__ import annotations

import json
import re
import threading

from fake_openai_server import FakeOpenAIServer, _error, tokenize

DISTRACTORS = (
    "The protein was shown to have no measurable activity under any condition tested.",
    "The effect was attributed entirely to contamination of the samples by bacterial endotoxin.",
    "All observed changes disappeared once the temperature was raised to 60 degrees.",
    "The structure was solved by cryo-electron tomography of intact yeast cells.",
    "The authors found that the gene is absent from every vertebrate genome examined.",
    "The measured binding constant was identical for all twenty amino acids.",
    "Removal of the signal peptide increased secretion one thousand fold.",
    "The pathway was found only in archaea living in hydrothermal vents.",
    "The compound acted exclusively through a voltage-gated calcium channel.",
)
_PASSAGE = re.compile(r'Passage:\n"""\n(.*?)\n"""', re.S)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_OPTION = re.compile(r"^option (\d+): (.*)$", re.M)
_QUESTION_LINE = re.compile(r" question: (.*)\n options:", re.S)


def _passage(prompt: str) -> str:
    m = _PASSAGE.search(prompt)
    return m.group(1) if m else ""


def _marked(name: str, text: str) -> str:
    m = re.search(name + r"<<(.*?)>>", text, re.S)
    return m.group(1) if m else ""


def longest_sentence(text: str) -> str:
    sentences = [s.strip() for s in _SENTENCE.split(text) if 40 <= len(s.strip()) <= 400]
    return max(sentences, key=len) if sentences else text[:200]


def _question(fact: str, quote: str, n_options: int, explanation: str | None = None) -> dict:
    options = [fact] + list(DISTRACTORS[: n_options - 1])
    return {"question": f"Which of these findings is reported: {fact}?", "options": options, "answer": 1,
            "explanation": explanation or f"Option 1 is correct because the text states that {fact}",
            "evidence": quote}


class ScriptedLLMServer(FakeOpenAIServer):
    def __init__(self, script: dict[str, str] | None = None, *, other_text: str = "", duplicate_text: str = "",
                 n_options: int = 6, default_behaviour: str = "good") -> None:
        super().__init__()
        self.script = dict(script or {})
        self.other_text = other_text
        self.duplicate_text = duplicate_text
        self.n_options = n_options
        self.default_behaviour = default_behaviour
        self.reject_schema = False
        self.hold_after: tuple[str, int] | None = None
        self.answered: list[tuple[str, str]] = []
        self.held = 0  # requests held so far
        self._released = threading.Event()
        self._answered_by_kind: dict[str, int] = {}

    # ------------------------------------------------------------------ script
    def behaviour(self, chunk: str) -> str:
        return self.script.get(chunk[:60], self.default_behaviour)

    @staticmethod
    def kind(prompt: str) -> str:
        if "cannot be read" in prompt and "Return the same content" in prompt:
            return "repair"
        if "You write multiple-choice questions" in prompt:
            return "generate"
        if "Summarise the following passage" in prompt:
            return "summarise"
        return "reanswer"

    def _generate(self, prompt: str, repair: bool) -> str:
        if repair:  # the broken reply shown in the repair prompt names its chunk and fact
            key, fact = _marked("KEY", prompt), _marked("FACT", prompt)
            if self.script.get(key) == "malformed":
                return "Sorry, I cannot do that."
            return json.dumps({"questions": [_question(fact, fact, self.n_options)]})
        chunk = _passage(prompt)
        how = self.behaviour(chunk)
        sentence = longest_sentence(chunk)
        if how in ("malformed_once", "malformed"):
            return f'Here you go: {{"questions": [{{"question": "KEY<<{chunk[:60]}>> FACT<<{sentence}>>", "options": ['
        q = _question(sentence, sentence, self.n_options)
        if how == "bad_quote":
            q["evidence"] = "The enzyme was purified from the venom of a deep-sea anglerfish in 1887."
        elif how == "other_article":
            q = _question(longest_sentence(self.other_text), sentence, self.n_options)
        elif how == "duplicate":
            q = _question(longest_sentence(self.duplicate_text), sentence, self.n_options)
        elif how == "incoherent":
            q["question"] = "Which planet of the solar system has the longest day?"
            q["explanation"] = "Saturn's rings are made mostly of water ice."
        elif how == "bad_options":
            q["options"] = q["options"][:1]
        elif how == "long_explanation":
            q["explanation"] = " ".join(["word"] * 150)
        elif how == "wrong_answer":
            q["question"] = q["question"].replace("findings is reported", "findings is stated")
        return json.dumps({"questions": [q]})

    def _reanswer(self, prompt: str) -> str:
        options = {int(n): text.strip() for n, text in _OPTION.findall(prompt)}
        right = next((n for n, t in options.items() if t not in DISTRACTORS), 1)
        if "Context:\n" in prompt:
            pick = (1 if right != 1 else 2) if "findings is stated" in prompt else right
        elif (m := _QUESTION_LINE.search(prompt)) and not m.group(1).strip():
            pick = next((n for n, t in options.items() if t in DISTRACTORS), 1)
        else:
            pick = 7
        return f"The correct option is Option {pick}."

    def _reply(self, body: dict, prompt: str, chat: bool) -> dict:
        kind = self.kind(prompt)
        if kind in ("generate", "repair"):
            text = self._generate(prompt, repair=kind == "repair")
        elif kind == "summarise":
            text = "A summary. " + longest_sentence(_PASSAGE.search(prompt).group(1) if _PASSAGE.search(prompt) else "")
        else:
            text = self._reanswer(prompt)
        usage = {"prompt_tokens": len(tokenize(prompt)), "completion_tokens": len(tokenize(text))}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return {"id": "scripted", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
                "choices": [choice], "usage": usage}

    # ------------------------------------------------------------------ holding and counting
    def hold(self, kind: str, n: int) -> None:
        """Hold every request once n more requests of `kind` have been answered."""
        with self._lock:
            self._released.clear()
            self.hold_after = (kind, self._answered_by_kind.get(kind, 0) + n)

    def release(self) -> None:
        with self._lock:
            self.hold_after = None
            self._released.set()

    def _handler_class(self):
        base = super()._handler_class()
        server = self

        class Handler(base):
            def _answer(self, body: dict) -> None:
                msgs = body.get("messages") or []
                prompt = "\n\n".join(str(m.get("content", "")) for m in msgs)
                kind = server.kind(prompt)
                with server._lock:
                    hold = server.hold_after
                    held = hold is not None and server._answered_by_kind.get(hold[0], 0) >= hold[1]
                if held:
                    with server._lock:
                        server.held += 1
                    server._released.wait(60)
                    self.close_connection = True
                    return  # the client was killed meanwhile; nothing is answered
                if kind == "generate" and server.behaviour(_passage(prompt)) == "server_error":
                    return self._send(500, _error("scripted failure", "server_error"))
                if server.reject_schema and body.get("response_format"):
                    return self._send(400, _error("response_format json_schema is not supported", "invalid_request_error"))
                with server._lock:
                    outcome = server.plan[0] if server.plan else "ok"
                super()._answer(body)
                if outcome == "ok":
                    with server._lock:
                        server.answered.append((kind, prompt))
                        server._answered_by_kind[kind] = server._answered_by_kind.get(kind, 0) + 1

        return Handler
