"""Train a small 1-D CNN with NumPy and arrayconv alone: no deep-learning framework.

The task: recover a clean signal (two sines of random frequencies and phases)
from a noisy one.  The network is Conv1d(1, 16, 9) -> ReLU -> Conv1d(16, 16, 9,
dilation 2) -> ReLU -> Conv1d(16, 1, 9), all with 'same' padding (reflect at the
ends); the loss is the mean squared error; the optimiser is Adam, a few lines
of NumPy.  Every gradient comes from ``Conv1d.backward``.

Run ``python examples/train_numpy_cnn.py``; it prints the loss as it goes and
ends with the held-out loss and that of the noisy input itself.  With the
default settings (400 steps of 32 signals of 256 samples) the held-out loss
falls from about 0.5 to below 0.05 in about half a minute on a laptop core,
while the noise alone scores 0.25.
"""

from __future__ import annotations

import argparse

import numpy as np

import arrayconv

NOISE = 0.5


def make_batch(rng: np.random.Generator, batch: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean) signals, (batch, 1, length) float32."""
    t = np.arange(length)
    frequency = rng.uniform(0.01, 0.06, size=(batch, 2, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(batch, 2, 1))
    clean = np.sin(2 * np.pi * frequency * t + phase).sum(axis=1, keepdims=True) / np.sqrt(2)
    noisy = clean + NOISE * rng.standard_normal(clean.shape)
    return noisy.astype(np.float32), clean.astype(np.float32)


class Network:
    """Three convolutions with ReLUs between them."""

    def __init__(self, rng: np.random.Generator) -> None:
        same = dict(padding="same", padding_mode="reflect", rng=rng)
        self.layers = [
            arrayconv.Conv1d(1, 16, 9, **same),
            arrayconv.Conv1d(16, 16, 9, dilation=2, **same),
            arrayconv.Conv1d(16, 1, 9, **same),
        ]
        self._masks: list[np.ndarray] = []

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._masks = []
        for layer in self.layers[:-1]:
            x = layer(x)
            mask = x > 0
            self._masks.append(mask)
            x = x * mask
        return self.layers[-1](x)

    def backward(self, grad: np.ndarray) -> None:
        grad = self.layers[-1].backward(grad)
        for layer, mask in zip(reversed(self.layers[:-1]), reversed(self._masks)):
            grad = layer.backward(grad * mask)

    def parameters(self) -> list[tuple[object, str]]:
        return [(layer, name) for layer in self.layers for name in ("weight", "bias")]


class Adam:
    """Adam (Kingma and Ba) over the layers' weight and bias."""

    def __init__(self, parameters: list[tuple[object, str]], rate: float = 3e-3) -> None:
        self.parameters = parameters
        self.rate = rate
        self.moments = [(np.zeros_like(getattr(o, n)), np.zeros_like(getattr(o, n))) for o, n in parameters]
        self.step_count = 0

    def step(self) -> None:
        self.step_count += 1
        beta1, beta2 = 0.9, 0.999
        for (owner, name), (first, second) in zip(self.parameters, self.moments):
            grad = getattr(owner, f"{name}_grad")
            first *= beta1
            first += (1 - beta1) * grad
            second *= beta2
            second += (1 - beta2) * grad * grad
            corrected = first / (1 - beta1**self.step_count)
            scale = np.sqrt(second / (1 - beta2**self.step_count)) + 1e-8
            setattr(owner, name, getattr(owner, name) - (self.rate * corrected / scale).astype(np.float32))
        for owner, _ in self.parameters:
            owner.zero_grad()


def train(steps: int = 400, batch: int = 32, length: int = 256, seed: int = 0, report=print) -> dict[str, float]:
    """Train and return the held-out losses: ``initial``, ``final`` and ``noise`` (the noisy input's own)."""
    rng = np.random.default_rng(seed)
    network = Network(rng)
    optimiser = Adam(network.parameters())
    held_noisy, held_clean = make_batch(np.random.default_rng(seed + 1), 64, length)

    def held_out() -> float:
        return float(np.mean((network.forward(held_noisy) - held_clean) ** 2))

    initial = held_out()
    for step in range(1, steps + 1):
        noisy, clean = make_batch(rng, batch, length)
        error = network.forward(noisy) - clean
        network.backward(2 * error / error.size)  # d(mean squared error)/d(output)
        optimiser.step()
        if step % 50 == 0:
            report(f"step {step:4d}  training loss {np.mean(error ** 2):.4f}")
    result = {"initial": initial, "final": held_out(), "noise": float(np.mean((held_noisy - held_clean) ** 2))}
    report(f"held-out loss {result['initial']:.4f} -> {result['final']:.4f} (the noisy input: {result['noise']:.4f})")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    train(steps=arguments.steps, seed=arguments.seed)
