"""A tour of the embedded runtime: tasks fan out, an actor aggregates, objects are shared.

Run: python examples/runtime_tour.py
"""

import numpy as np

import streamdata as sd


@sd.remote
def partial_stats(chunk: np.ndarray) -> tuple[float, int]:
    """Sum and count of one chunk (the chunk arrives zero-copy from shared memory)."""
    return float(chunk.sum()), int(chunk.size)


@sd.remote
class Accumulator:
    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def add(self, stats: tuple[float, int]) -> int:
        self.total += stats[0]
        self.count += stats[1]
        return self.count

    def mean(self) -> float:
        return self.total / self.count


def main() -> None:
    sd.init(num_cpus=2)
    data = np.random.default_rng(0).normal(size=8_000_000)
    chunks = [sd.put(c) for c in np.array_split(data, 16)]
    acc = Accumulator.remote()
    sd.get([acc.add.remote(partial_stats.remote(c)) for c in chunks])
    mean = sd.get(acc.mean.remote())
    print(f"mean of {data.size:,} values over 16 tasks: {mean:.6f} (numpy: {data.mean():.6f})")
    assert abs(mean - data.mean()) < 1e-9
    print("resources:", sd.cluster_resources())
    sd.shutdown()


if __name__ == "__main__":
    main()
