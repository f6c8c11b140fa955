"""The JSON prompt/answer format of the SpeechLLM and a tolerant answer parser (base layer).

The instruction names the requested fields; the answer is a JSON object with
those fields in the same order, every value a string (age too: ``"31"``).

The speech sits between the delimiters ``<speech>`` and ``</speech>``: special tokens of
the tiny LLM's own tokenizer, plain text for a public chat LLM (whose prompt is built with
its own chat template, :func:`chat_prompt`: no new embeddings for a frozen LLM).

The tiny LLM uses a word-level tokenizer whose decoder puts a space between
every token, so generated answers look like
``{ " transcript " : " the cat sat " , " age " : " 31 " }``.
:func:`parse_answer` accepts that form as well as ordinary JSON.
"""
from __future__ import annotations

import json
import re
import unicodedata

FIELDS = ["transcript", "gender", "emotion", "age"]

# Simple English words only: the tiny LLM's word-level vocabulary is built from these strings.
_INSTRUCTION = "Listen to the speech and answer in JSON with the fields: {}."

_WS = re.compile(r"\s+")

SPEECH_OPEN, SPEECH_CLOSE = "<speech>", "</speech>"
_AUDIO = "<<audio embeddings>>"  # where the audio goes in a rendered chat (never sent as text)


def _check_fields(fields) -> list[str]:
    fields = list(fields)
    if not fields:
        raise ValueError("no fields requested")
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, bad))}; known: {', '.join(FIELDS)}")
    if len(set(fields)) != len(fields):
        raise ValueError(f"repeated field in {fields}")
    return fields


def instruction(fields) -> str:
    """E.g. ``"Listen to the speech and answer in JSON with the fields: transcript, gender."``"""
    return _INSTRUCTION.format(", ".join(_check_fields(fields)))


def chat_prompt(render, instruction_text: str, answer: str | None = None) -> tuple[str, str, str]:
    """A chat LLM's prompt from its own chat template, in three pieces: the text before the
    audio, the text after it up to where the answer starts, and the answer with the end of
    the assistant's turn ("" when `answer` is None: generation starts there).

    `render(messages, add_generation_prompt) -> str` renders with the tokenizer's template
    (``tokenizer.apply_chat_template(..., tokenize=False)``). The user message is the
    instruction, then the speech between the plain-text delimiters; the assistant's message
    is the JSON answer.
    """
    user = {"role": "user", "content": f"{instruction_text} {SPEECH_OPEN}{_AUDIO}{SPEECH_CLOSE}"}
    prompt = render([user], True)
    before, _, after = prompt.partition(_AUDIO)
    if answer is None:
        return before, after, ""
    full = render([user, {"role": "assistant", "content": answer}], False)
    if not full.startswith(prompt):
        raise ValueError("chat template: the assistant's turn does not continue the generation "
                         "prompt (add_generation_prompt)")
    return before, after, full[len(prompt):].rstrip()


def _as_text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def answer_json(labels: dict, fields) -> str:
    """The target answer: ``json.dumps({f: labels[f] for f in fields})``, values as strings."""
    fields = _check_fields(fields)
    missing = [f for f in fields if f not in labels]
    if missing:
        raise ValueError(f"labels lack field(s) {', '.join(missing)}")
    return json.dumps({f: _as_text(labels[f]) for f in fields})


def _clean(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return _WS.sub(" ", _as_text(value)).strip()


def parse_answer(text: str | None) -> dict | None:
    """The first JSON object in `text` as ``{key: value}`` with string values, or None.

    Tolerant of the word-level decoder's spacing: keys and values are stripped
    and runs of white space inside them collapse to one space. Numbers become
    strings (``31`` -> ``"31"``), ``null`` becomes ``""``. Text before the
    object and after its closing brace is ignored. No object (or only a
    truncated one) -> None.
    """
    if not isinstance(text, str):
        return None
    decoder = json.JSONDecoder(strict=False)  # allow raw newlines/tabs inside strings
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            return {_clean(k): _clean(v) for k, v in obj.items()}
        start = text.find("{", start + 1)
    return None


def normalize(value) -> str:
    """Lower-case, delete punctuation (Unicode category P, as jiwer does), collapse white space."""
    if value is None:
        return ""
    s = _as_text(value).lower()
    s = "".join(ch for ch in s if not unicodedata.category(ch).startswith("P"))
    return _WS.sub(" ", s).strip()
