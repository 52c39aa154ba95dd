#!/usr/bin/env python3
"""PyTorch peer for `cnnfpga bench train`: training images/second of the paper CNN (and the
MLP) on CPU with 2 threads, batch 128, on random 64x64 RGB data (the speed does not depend on
the pixel values). Not run in CI; installs nothing itself.

Setup (only PyPI is reachable, so the plain PyPI wheel):
    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch
Run:
    /tmp/torchvenv/bin/python bench/peers/pytorch_paper_cnn.py [--steps 20] [--batch 128] [--threads 2]
Besides wall-clock images/s it prints images per CPU-second (process CPU time of all threads),
the rate `cnnfpga bench train` also prints, which is steadier on a shared machine.

The networks match host/src/model.rs (Arch::paper_cnn, Arch::mlp): conv3x3x10 valid + ReLU,
maxpool 2, conv5x5x20 valid + ReLU, maxpool 2, flatten (13*13*20 = 3380), dense 64 + ReLU +
dropout 0.5, dense 5; Adam lr 1e-3. MLP: flatten 12288, dense 64 + ReLU, dense 5; SGD lr 0.1.
"""
import argparse
import json
import time

import torch
import torch.nn as nn


def paper_cnn(classes: int, hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 10, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(10, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(13 * 13 * 20, hidden), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(hidden, classes),
    )


def mlp(classes: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64 * 64 * 3, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def bench(name, model, opt, batch, steps, channels_last=False):
    torch.manual_seed(0)
    x = torch.rand(batch, 3, 64, 64)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (batch,))
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0  # all threads of the process
    return {"arch": name, "batch": batch, "steps": steps, "threads": torch.get_num_threads(),
            "channels_last": channels_last, "images_per_second": steps * batch / dt,
            "ms_per_step": dt * 1e3 / steps, "cpu_seconds": cpu,
            "images_per_cpu_second": steps * batch / cpu, "torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    results = []
    m = paper_cnn(5, 64)
    results.append(bench("paper-cnn", m, torch.optim.Adam(m.parameters(), lr=1e-3), a.batch, a.steps))
    m = paper_cnn(5, 64)
    results.append(bench("paper-cnn", m, torch.optim.Adam(m.parameters(), lr=1e-3), a.batch, a.steps, channels_last=True))
    m = mlp(5, 64)
    results.append(bench("mlp", m, torch.optim.SGD(m.parameters(), lr=0.1), a.batch, a.steps))
    if a.json:
        print(json.dumps({"train": results}))
    else:
        for r in results:
            print(f"{r['arch']:10} batch {r['batch']:4} {r['images_per_second']:9.1f} images/s "
                  f"{r['ms_per_step']:7.2f} ms/step ({r['threads']} threads, channels_last={r['channels_last']}, "
                  f"{r['images_per_cpu_second']:.1f} images/CPU-s, torch {r['torch']})")


if __name__ == "__main__":
    main()
