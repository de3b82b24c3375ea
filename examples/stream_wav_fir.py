"""Filter a WAV file in 10 ms blocks with a long FIR, as a real-time audio callback would.

The script writes a two-channel 48 kHz test signal (a chirp and noise) to a
WAV file, reads it back, and pushes it through ``arrayconv.Conv1dStream`` in
blocks of 10 ms (480 samples), with a 4097-tap low-pass filter (a Hann
windowed sinc, cut-off 4 kHz) applied to each channel (``groups=2``) and
``padding="causal"``: each block's output comes out as the block goes in,
with no look-ahead.  It then checks the streamed output against the offline
``conv1d`` of the whole file, and writes the filtered file next to the input.

Run ``python examples/stream_wav_fir.py [--seconds 5] [--out DIR]``; it
prints the block count, the time per block against the block's 10 ms budget
(the first block with outputs also loads the FFT library: reported apart), and
the largest difference from the offline result.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time
import wave

import numpy as np

import arrayconv

RATE = 48_000
BLOCK = RATE // 100  # 10 ms
TAPS = 4097
CUTOFF = 4_000.0


def test_signal(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """(2, n) float32 in [-1, 1]: a rising chirp on the left, noise on the right."""
    t = np.arange(int(seconds * RATE)) / RATE
    chirp = 0.5 * np.sin(2 * np.pi * (100 * t + (12_000 / seconds) * t**2 / 2))
    noise = 0.3 * rng.standard_normal(t.size)
    return np.stack([chirp, noise]).astype(np.float32)


def write_wav(path: pathlib.Path, signal: np.ndarray) -> None:
    """16-bit PCM, channels interleaved."""
    pcm = np.clip(np.round(signal.T * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(signal.shape[0])
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes(pcm.tobytes())


def read_wav(path: pathlib.Path) -> np.ndarray:
    """(channels, n) float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as f:
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
        return (pcm.reshape(-1, f.getnchannels()).T / 32768.0).astype(np.float32)


def lowpass(taps: int, cutoff: float) -> np.ndarray:
    """A Hann-windowed sinc low-pass of unit gain at DC, (taps,) float32."""
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff / RATE * n) * np.hanning(taps)
    return (h / h.sum()).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=pathlib.Path, default=None, help="folder for the WAV files (default: a temp one)")
    args = parser.parse_args(argv)
    folder = args.out or pathlib.Path(tempfile.mkdtemp(prefix="arrayconv-stream-"))
    folder.mkdir(parents=True, exist_ok=True)

    source = folder / "input.wav"
    write_wav(source, test_signal(args.seconds, np.random.default_rng(0)))
    signal = read_wav(source)  # (2, n): unbatched, one row per channel
    weight = np.stack([lowpass(TAPS, CUTOFF)] * 2)[:, None, :]  # (2, 1, TAPS): each channel its own filter

    stream = arrayconv.Conv1dStream(weight, padding="causal", groups=2)
    blocks, times = [], []
    for start in range(0, signal.shape[1], BLOCK):
        began = time.perf_counter()
        blocks.append(stream.push(signal[:, start:start + BLOCK]))
        times.append(time.perf_counter() - began)
    blocks.append(stream.flush())  # causal: nothing is left for the end
    streamed = np.concatenate(blocks, axis=-1)

    offline = arrayconv.conv1d(signal, weight, padding="causal", groups=2)
    difference = float(np.abs(streamed - offline).max())
    write_wav(folder / "filtered.wav", streamed)
    median = 1e3 * float(np.median(times))
    print(f"{len(times)} blocks of {BLOCK} samples ({BLOCK / RATE * 1e3:.0f} ms), {TAPS} taps, 2 channels")
    # the first block that has outputs also loads the FFT library and plans its transforms
    warm = times[TAPS // BLOCK + 1:]
    print(f"per block: median {median:.2f} ms, slowest after warm-up {1e3 * max(warm):.2f} ms, "
          f"warm-up {1e3 * max(times):.0f} ms (the budget: 10 ms)")
    print(f"largest difference from the offline conv1d: {difference:.2e} (output peak {np.abs(offline).max():.2f})")
    print(f"written: {folder / 'filtered.wav'}")
    return 0 if difference <= 1e-5 * max(float(np.abs(offline).max()), 1.0) else 1


if __name__ == "__main__":
    raise SystemExit(main())
