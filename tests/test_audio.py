import numpy as np
import pytest
import soundfile as sf

from slm_backdoor.audio import AudioError, read_audio, write_wav

SR = 16000


def _tone(n=SR // 4, sr=SR, f=220.0):
    return (0.5 * np.sin(2 * np.pi * f * np.arange(n) / sr)).astype(np.float32)


def test_write_read_roundtrip_pcm16(tmp_path):
    p = write_wav(tmp_path / "a.wav", _tone())
    info = sf.info(str(p))
    assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
    x = read_audio(p)
    assert x.dtype == np.float32 and x.shape == (SR // 4,)
    assert np.max(np.abs(x - _tone())) < 1e-4
    assert not list(tmp_path.glob(".tmp*"))  # atomic write leaves no temporaries


def test_write_clips_and_rejects_bad(tmp_path):
    p = write_wav(tmp_path / "loud.wav", np.array([2.0, -2.0, 0.5], np.float32))
    assert np.max(np.abs(read_audio(p))) <= 1.0
    with pytest.raises(AudioError, match="empty"):
        write_wav(tmp_path / "e.wav", np.zeros(0, np.float32))
    with pytest.raises(AudioError, match="NaN"):
        write_wav(tmp_path / "n.wav", np.array([0.1, np.nan], np.float32))
    assert not (tmp_path / "e.wav").exists() and not (tmp_path / "n.wav").exists()


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="not found") as e:
        read_audio(tmp_path / "nope.wav")
    assert "nope.wav" in str(e.value) and "\n" not in str(e.value)


def test_unreadable_file(tmp_path):
    p = tmp_path / "junk.wav"
    p.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioError, match="unreadable") as e:
        read_audio(p)
    assert "junk.wav" in str(e.value) and "\n" not in str(e.value)


def test_truncated_file(tmp_path):
    p = tmp_path / "t.wav"
    sf.write(str(p), _tone(), SR, subtype="PCM_16")
    p.write_bytes(p.read_bytes()[:30])  # cut inside the header
    with pytest.raises(AudioError, match="t.wav"):
        read_audio(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    sf.write(str(p), np.zeros((0, 1), np.float32), SR, subtype="PCM_16")
    with pytest.raises(AudioError, match="empty"):
        read_audio(p)


def test_nonfinite_samples(tmp_path):
    p = tmp_path / "nan.wav"
    x = _tone()
    x[10] = np.nan
    x[20] = np.inf
    sf.write(str(p), x, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite"):
        read_audio(p)


def test_silent_file(tmp_path):
    p = tmp_path / "silent.wav"
    sf.write(str(p), np.zeros(SR, np.float32), SR, subtype="PCM_16")
    with pytest.raises(AudioError, match="silent"):
        read_audio(p)


def test_multichannel_downmix(tmp_path):
    p = tmp_path / "st.wav"
    left, right = _tone(), 0.5 * _tone()
    sf.write(str(p), np.stack([left, right], axis=1), SR, subtype="FLOAT")
    x = read_audio(p)
    assert x.ndim == 1 and np.allclose(x, (left + right) / 2, atol=1e-6)


def test_wrong_rate_resampled_or_refused(tmp_path):
    p = tmp_path / "r8k.wav"
    sf.write(str(p), _tone(8000, 8000), 8000, subtype="FLOAT")
    x = read_audio(p)  # 1 s at 8 kHz -> 1 s at 16 kHz
    assert x.shape == (SR,) and x.dtype == np.float32
    with pytest.raises(AudioError, match="8000 Hz, expected 16000 Hz"):
        read_audio(p, resample=False)


def test_exact_float_wav_roundtrip_and_reproducible_bytes(tmp_path):
    """exact=True: float32 samples stored as they are (even beyond [-1, 1]), and no PEAK chunk
    (libsndfile's holds the time of writing: the same click would hash differently)."""
    x = np.concatenate([_tone(), [1.25, -1.5]]).astype(np.float32)
    p = write_wav(tmp_path / "f.wav", x, exact=True)
    y, sr = sf.read(str(p), dtype="float32")
    assert sr == SR and sf.info(str(p)).subtype == "FLOAT" and np.array_equal(x, y)
    assert b"PEAK" not in p.read_bytes()
    assert write_wav(tmp_path / "g.wav", x, exact=True).read_bytes() == p.read_bytes()
