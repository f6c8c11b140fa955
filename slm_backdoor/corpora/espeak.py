"""A ctypes binding to the eSpeak NG library shipped by the `espeakng-loader` wheel.

`synthesize(text, ...)` returns a 16 kHz float32 waveform and a word alignment built
from eSpeak's word events (espeakEVENT_WORD).

Determinism. eSpeak's wave generator keeps state between utterances in C statics
(pitch-flutter phase, automatic gain control, roughness cycle counter, noise
generator), so the same text spoken twice in one process gives different bytes.
To make every call a pure function of its arguments, the library is initialised
once (synchronous mode, a synth callback collecting samples and word events) in a
small helper process that never speaks itself; each utterance is spoken by a fork
of it, which starts from that pristine state and exits. The helper is started on
first use (one per client process; a forked client starts its own) and costs about
a millisecond per utterance.

Voices. `voice` is an eSpeak voice name ("en", "en-us"); `variant` is None, a stock
variant name ("m3", "f2", "croak"; see `stock_variants()`), or a name returned by
`define_variant`, which writes a custom voice file (eSpeak voice-file keywords:
pitch, formant, flutter, roughness, breath, ...) so speakers can be made from
continuous parameters.
"""
from __future__ import annotations

import atexit
import ctypes
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path

SAMPLE_RATE = 16000

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_MSG_TERMINATED = 6
_P_RATE, _P_VOLUME, _P_PITCH, _P_RANGE, _P_WORDGAP = 1, 2, 3, 4, 7
_CHARS_UTF8 = 1
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1

# Voiced-audio threshold for trimming (int16 scale, about -54 dBFS) and margin kept.
_TRIM_THRESHOLD = 64
_TRIM_PAD_S = 0.02
_HEADER = struct.Struct("<iii")  # status, n_samples, n_json_bytes


class EspeakError(RuntimeError):
    """eSpeak NG could not be loaded, initialised, or asked to speak."""


# --------------------------------------------------------------------------- server side
# Everything in this section runs in the helper process (no numpy, no torch).

def _library_paths() -> tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError as e:
        raise EspeakError("espeakng-loader is not installed (pip install espeakng-loader)") from e
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def _serve() -> None:  # pragma: no cover - exercised through the client
    """Helper-process main loop: init eSpeak once, fork one child per request."""
    out = sys.stdout.buffer

    def reply(status: int, samples: bytes, meta: dict) -> None:
        blob = json.dumps(meta).encode()
        out.write(_HEADER.pack(status, len(samples) // 2, len(blob)) + blob + samples)
        out.flush()

    lib_path, data_path = _library_paths()
    try:
        lib = ctypes.CDLL(lib_path)
    except OSError as e:
        reply(1, b"", {"error": f"{lib_path}: cannot load eSpeak NG: {e}"})
        return

    class EventId(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                    ("string", ctypes.c_char * 8)]

    class Event(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                    ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                    ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                    ("user_data", ctypes.c_void_p), ("id", EventId)]

    callback_t = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                  ctypes.POINTER(Event))
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [callback_t]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByFile.argtypes = [ctypes.c_char_p]
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint),
                                 ctypes.c_void_p]
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_Info.argtypes = [ctypes.c_void_p]
    seed = getattr(lib, "espeak_ng_SetRandSeed", None)
    if seed is not None:
        seed.argtypes = [ctypes.c_long]
        seed.restype = None

    chunks: list[bytes] = []
    words: list[list[int]] = []

    def on_audio(wav, numsamples, events):
        if numsamples > 0 and wav:
            chunks.append(ctypes.string_at(wav, numsamples * 2))
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_WORD:
                words.append([ev.text_position, ev.length, ev.sample, ev.audio_position])
            if ev.type == _EVENT_MSG_TERMINATED:
                break
            i += 1
        return 0

    cb = callback_t(on_audio)
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(),
                                 _INITIALIZE_DONT_EXIT)
    if rate <= 0:
        reply(1, b"", {"error": f"{data_path}: espeak_Initialize failed ({rate})"})
        return
    lib.espeak_SetSynthCallback(cb)
    reply(0, b"", {"rate": rate, "version": lib.espeak_Info(None).decode(),
                   "data_path": data_path})

    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child speaks once, from the helper's pristine state, and exits
            status = 1
            try:
                if req.get("voice_file"):
                    ok = lib.espeak_SetVoiceByFile(req["voice_file"].encode()) == 0
                else:
                    ok = lib.espeak_SetVoiceByName(req["voice"].encode()) == 0
                if not ok:
                    reply(1, b"", {"error": f"voice {req.get('voice_file') or req['voice']!r}: "
                                            "unknown to eSpeak NG"})
                else:
                    for param, key in ((_P_RATE, "rate"), (_P_PITCH, "pitch"),
                                       (_P_RANGE, "pitch_range"), (_P_VOLUME, "amplitude"),
                                       (_P_WORDGAP, "word_gap")):
                        lib.espeak_SetParameter(param, int(req[key]), 0)
                    if seed is not None:
                        seed(12345)
                    data = req["text"].encode("utf-8") + b"\0"
                    buf = ctypes.create_string_buffer(data)
                    st = lib.espeak_Synth(buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                          None, None)
                    lib.espeak_Synchronize()
                    if st != 0:
                        reply(1, b"", {"error": f"espeak_Synth failed with status {st}"})
                    else:
                        reply(0, b"".join(chunks), {"words": words})
                status = 0
            except BaseException as e:  # noqa: BLE001 - report anything, then exit
                try:
                    reply(1, b"", {"error": f"{type(e).__name__}: {e}"})
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(status)
        _, wstatus = os.waitpid(pid, 0)
        if wstatus != 0:
            reply(1, b"", {"error": f"eSpeak child process died (wait status {wstatus})"})


# --------------------------------------------------------------------------- client side

class _Client:
    """Talks to the helper process (one per client process)."""

    def __init__(self):
        self.pid = os.getpid()
        self.lock = threading.Lock()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in [str(Path(__file__).resolve().parents[2]),
                                                        env.get("PYTHONPATH", "")] if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-c",
             "import runpy, sys; sys.argv = ['espeak', '--serve']; "
             f"runpy.run_path({str(Path(__file__).resolve())!r}, run_name='__main__')"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        status, meta, _ = self._read()
        if status != 0:
            raise EspeakError(meta.get("error", "eSpeak helper failed to start"))
        self.native_rate = int(meta["rate"])
        self.version = meta["version"]
        self.data_path = Path(meta["data_path"])
        # Custom voice files: a short lower-case directory (eSpeak lower-cases the name and
        # copies it into a 60-byte buffer).
        self.voice_dir = Path(f"/tmp/esv{os.getpid()}x{os.urandom(4).hex()}")
        self.voice_dir.mkdir(mode=0o700)
        atexit.register(self.close)

    def _read(self):
        head = self.proc.stdout.read(_HEADER.size)
        if len(head) < _HEADER.size:
            raise EspeakError(f"eSpeak helper exited unexpectedly (code {self.proc.poll()})")
        status, n, m = _HEADER.unpack(head)
        meta = json.loads(self.proc.stdout.read(m)) if m else {}
        samples = self.proc.stdout.read(2 * n) if n > 0 else b""
        return status, meta, samples

    def request(self, req: dict):
        with self.lock:
            self.proc.stdin.write(json.dumps(req).encode() + b"\n")
            self.proc.stdin.flush()
            return self._read()

    def close(self):
        if os.getpid() != self.pid:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001
            self.proc.kill()
        shutil.rmtree(self.voice_dir, ignore_errors=True)


_CLIENT: _Client | None = None
_CLIENT_LOCK = threading.Lock()
_VARIANTS: dict[str, str] = {}  # custom variant name -> voice-file text


def _client() -> _Client:
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is None or _CLIENT.pid != os.getpid():
            _CLIENT = _Client()
        return _CLIENT


def native_rate() -> int:
    return _client().native_rate


def version() -> str:
    return _client().version


def data_path() -> Path:
    return Path(_library_paths()[1])


def stock_variants() -> list[str]:
    """Names of the variant files in the wheel's `voices/!v` directory."""
    return sorted(p.name for p in (data_path() / "voices" / "!v").iterdir())


def stock_variant_text(name: str) -> str:
    """The text of a stock variant file (to derive custom variants from)."""
    p = data_path() / "voices" / "!v" / name
    if not p.is_file():
        raise EspeakError(f"variant {name!r}: no such file in {p.parent}")
    return p.read_text(encoding="latin-1")


def _language_file(language: str) -> str:
    """Text of the eSpeak language voice (e.g. lang/gmw/en-US) that a custom voice builds on:
    a voice file saying only `language en-us` would get the English defaults, not these."""
    for p in sorted((data_path() / "lang").rglob("*")):
        if p.is_file() and p.name.lower() == language.lower():
            return p.read_text(encoding="latin-1")
    raise EspeakError(f"language {language!r}: no such voice in {data_path() / 'lang'}")


def define_variant(lines: str, language: str = "en-us") -> str:
    """Register a custom voice (eSpeak voice-file keywords, one per line); return its name.

    The name is a hash of the content: defining the same voice twice is free and names
    are reproducible. Use it as `synthesize(..., variant=name)`; `voice` is then ignored
    (the language is part of the voice file).
    """
    def keep(ln: str) -> bool:
        ln = ln.strip()
        return bool(ln) and not ln.startswith(("language", "name", "//", "maintainer", "status"))

    base = _language_file(language)
    body = f"language {language}\n" + "\n".join(
        ln.strip() for ln in base.splitlines() + lines.splitlines() if keep(ln)) + "\n"
    name = "v" + hashlib.sha256(body.encode()).hexdigest()[:16]
    _VARIANTS[name] = f"name {name}\n" + body
    return name


def _voice_file(client: _Client, name: str) -> str:
    path = client.voice_dir / name
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(_VARIANTS[name])
        os.replace(tmp, path)
    return str(path)


def _word_spans(text: str) -> list[tuple[int, int, str]]:
    spans, i = [], 0
    for tok in text.split():
        j = text.index(tok, i)
        spans.append((j, j + len(tok), tok))
        i = j + len(tok)
    return spans


def synthesize_raw(text: str, voice: str = "en", variant: str | None = None, rate: int = 175,
                   pitch: int = 50, pitch_range: int = 50, amplitude: int = 100,
                   word_gap: int = 0):
    """Speak `text`; return (int16 samples at the native rate, [(token, sample)] word onsets)."""
    import numpy as np

    if not text or not text.strip():
        raise EspeakError("synthesize: empty text")
    client = _client()
    req = {"text": text, "rate": rate, "pitch": pitch, "pitch_range": pitch_range,
           "amplitude": amplitude, "word_gap": word_gap}
    if variant is not None and variant in _VARIANTS:
        req["voice_file"] = _voice_file(client, variant)
    else:
        req["voice"] = voice if variant is None else f"{voice}+{variant}"
    status, meta, samples = client.request(req)
    if status != 0:
        raise EspeakError(f"{meta.get('error', 'eSpeak failed')} (text {text!r})")
    audio = np.frombuffer(samples, dtype="<i2").copy()
    # Map word events (1-based character positions) onto the white-space tokens of text.
    # eSpeak speaks some word pairs as one dictionary phrase ("so much") and reports one
    # event for them: such tokens get None here (synthesize interpolates them).
    spans = _word_spans(text)
    sample_of: list[int | None] = [None] * len(spans)
    for pos, _length, sample, _ms in meta["words"]:
        for k, (a, b, _tok) in enumerate(spans):
            if a <= pos - 1 < b and sample_of[k] is None:
                sample_of[k] = int(sample)
                break
    onsets = [(tok, sample_of[k]) for k, (_, _, tok) in enumerate(spans)]
    return audio, onsets


def synthesize(text: str, voice: str = "en", variant: str | None = None, rate: int = 175,
               pitch: int = 50, pitch_range: int = 50, amplitude: int = 100,
               word_gap: int = 0) -> tuple["np.ndarray", list[tuple[str, float, float]]]:  # noqa: F821
    """Speak `text`; return (float32 waveform in [-1, 1] at 16 kHz, [(word, start_s, end_s)]).

    rate: words per minute (80-450); pitch, pitch_range: 0-100; amplitude: 0-200;
    word_gap: extra pause between words in units of 10 ms. Leading and trailing silence
    is trimmed (keeping a 20 ms margin) and the alignment shifted with it; a word ends
    where the next starts, the last at the end of the audio. Words are the white-space
    tokens of `text` (as written, punctuation included). Deterministic: the same
    arguments give the same bytes, whatever was spoken before.
    """
    import numpy as np
    import torch

    audio, onsets = synthesize_raw(text, voice, variant, rate, pitch, pitch_range, amplitude,
                                   word_gap)
    sr0 = native_rate()
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > _TRIM_THRESHOLD)
    if loud.size == 0:
        raise EspeakError(f"eSpeak produced only silence for {text!r}")
    pad = int(_TRIM_PAD_S * sr0)
    first = max(int(loud[0]) - pad, 0)
    last = min(int(loud[-1]) + pad + 1, audio.size)
    clip = torch.from_numpy(audio[first:last].astype(np.float32) / 32768.0)
    if sr0 != SAMPLE_RATE:
        clip = _resampler(sr0)(clip)
    out = np.clip(clip.numpy(), -1.0, 1.0).astype(np.float32)
    dur = out.size / SAMPLE_RATE

    starts = _fill_onsets([tok for tok, _ in onsets],
                          [None if s is None else min(max((s - first) / sr0, 0.0), dur)
                           for _, s in onsets], dur)
    for i in range(1, len(starts)):  # monotone, whatever eSpeak reports
        starts[i] = max(starts[i], starts[i - 1])
    align = [(tok, round(starts[i], 4), round(starts[i + 1] if i + 1 < len(starts) else dur, 4))
             for i, (tok, _) in enumerate(onsets)]
    return out, align


def _fill_onsets(tokens: list[str], starts: list[float | None], dur: float) -> list[float]:
    """Give tokens without a word event (merged into a phrase by eSpeak) an onset by
    sharing the span between known onsets in proportion to their character counts."""
    out = list(starts)
    if out and out[0] is None:
        out[0] = 0.0
    i = 0
    while i < len(out):
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < len(out) and out[j] is None:
            j += 1
        left = i - 1
        t0, t1 = out[left], (out[j] if j < len(out) else dur)
        weights = [len(tokens[k]) for k in range(left, j)]
        total = sum(weights) or 1
        acc = 0
        for k in range(i, j):
            acc += weights[k - 1 - left]
            out[k] = t0 + (t1 - t0) * acc / total
        i = j
    return [float(x) for x in out]


_RESAMPLERS: dict = {}


def _resampler(sr0: int):
    """torchaudio's sinc resampler with its kernel computed once (the functional form
    rebuilds a 441/320-phase kernel on every call, about 150 ms)."""
    import torchaudio

    if sr0 not in _RESAMPLERS:
        _RESAMPLERS[sr0] = torchaudio.transforms.Resample(sr0, SAMPLE_RATE)
    return _RESAMPLERS[sr0]


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    _serve()
