"""Training throughput of the project's loop vs a bare PyTorch loop: same PatchTST, batch size
and training windows. The bare loop gets every window pre-built as one tensor, the best case;
the project's loop builds batches from the bar series as it goes. Samples per second over one
epoch each, after a warm-up. Prints a table, writes bench/results/train_throughput.json.

    python bench/train_throughput.py          # SPY 5-minute bars from ../shared/data, default config
    python bench/train_throughput.py --tiny   # seconds: synthetic bars, tiny model (smoke test)
"""

from __future__ import annotations

import time

import numpy as np
import torch
from common import bench_parser, save_result


def bare_loop(prepared, config, epochs_warmup_steps: int = 3) -> float:
    """Samples/s of the plainest loop over the same windows, prepared beforehand."""
    from models.price_direction import build_patchtst

    p = prepared
    x = torch.from_numpy(np.stack([(p.samples.window(e) - p.mean) / p.std for e in p.split.train])).float()
    y = torch.from_numpy(p.samples.labels[p.split.train])
    torch.manual_seed(config.seed)
    network = build_patchtst(config.context_length, config.patch_length, config.patch_stride, config.d_model,
                             config.num_attention_heads, config.num_hidden_layers, config.ffn_dim, config.dropout)
    network.train()
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    order = torch.randperm(len(x))
    batches = [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]

    def step(idx):
        loss = torch.nn.functional.cross_entropy(network(past_values=x[idx]).prediction_logits, y[idx])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    for idx in batches[:epochs_warmup_steps]:
        step(idx)
    start = time.perf_counter()
    for idx in batches:
        step(idx)
    return len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = bench_parser(__doc__, "train_throughput")
    args = parser.parse_args()

    from tests.support import random_walk_frame
    from training.data import load_bars, shared_data_dir
    from training.train import TrainConfig, prepare, train

    if args.tiny:
        frame, source = random_walk_frame(1500), "synthetic random walk, 1500 bars"
        config = TrainConfig(context_length=32, horizon=4, patch_length=8, patch_stride=8, d_model=8,
                             num_attention_heads=2, num_hidden_layers=1, ffn_dim=16, max_epochs=2)
    else:
        path = shared_data_dir() / "stocks/intraday_5min/SPY_5min.csv"
        frame, source = load_bars(csv=path, session="regular"), f"{path.name}, regular session"
        config = TrainConfig(max_epochs=2)
    epochs = []
    train(frame, config, report=lambda record, _: epochs.append(record))
    project = epochs[-1]["train_samples"] / epochs[-1]["train_seconds"]  # the second epoch: warm
    bare = bare_loop(prepare(frame, config), config)
    ratio = project / bare
    print(f"{'training loop':24s} {'samples/s':>10s}")
    print(f"{'investiq train()':24s} {project:10.1f}")
    print(f"{'bare PyTorch loop':24s} {bare:10.1f}")
    print(f"project / bare: {ratio:.1%}  ({source}, batch {config.batch_size}, context {config.context_length}, "
          f"{torch.get_num_threads()} threads)")
    save_result(args.out, "python bench/train_throughput.py" + (" --tiny" if args.tiny else ""),
                {"tiny": args.tiny, "data": source, "config": config.__dict__},
                {"project_samples_per_s": project, "bare_samples_per_s": bare, "ratio": ratio})


if __name__ == "__main__":
    main()
