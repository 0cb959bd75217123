#!/usr/bin/env python3
"""One LeNet-5 training step in PyTorch (CPU): the baseline for winnow-bench's `lenet` row.

Same model as Winnow's Models.lenet5 (conv 5x5 1->6 pad 2, ReLU, max-pool 2, conv 5x5 6->16,
ReLU, max-pool 2, 400->120->84->10 with ReLU), batch 128 of 1x28x28, cross-entropy (mean),
torch.optim.SGD(lr=0.01, momentum=0.9, weight_decay=5e-4); a step is zero_grad + forward +
backward + optimizer step. Timing uses the same quiet-sample rule as winnow-bench: each sample
is back-to-back steps lasting >= --min-sample-ms, started after waiting (up to --wait-quiet s)
for 200 ms in which other processes used < 10 % of a core, then 300 ms of untimed steps; it is
quiet when CPU time of other processes and steal (from /proc/stat, minus our own) are each
<= max(20 ms, 10 %) of the sample.

Tested with torch 2.15.0 (CPU side: MKL, oneDNN). Usage:
    python lenet_step_torch.py --threads 1 [--samples 7] [--min-sample-ms 100] [--wait-quiet 10]
Prints a Markdown row and a `RESULT torch lenet_step ...` line (parsed by compare_lenet.sh).
"""
import argparse
import os
import resource
import time

import torch
import torch.nn as nn


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def machine_times():
    """Busy and steal CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        fields = [float(v) for v in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
    return busy / tick, fields[7] / tick


def own_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def wait_for_quiet(timeout):
    """Returns once other processes used under 10 % of a core for 200 ms (or after timeout)."""
    deadline = time.monotonic() + timeout
    previous = machine_times()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = machine_times()
        if now[0] - previous[0] <= 0.02 and now[1] - previous[1] <= 0.02:
            return
        previous = now


def rewarm(step):
    """Runs step for >= 300 ms after the idle wait: thread pools park when idle, and the first
    calls after waking them are not the steady state."""
    end = time.perf_counter() + 0.3
    step()
    while time.perf_counter() < end:
        step()


def sample(step, calls):
    busy0, steal0 = machine_times()
    own0, t0 = own_cpu(), time.perf_counter()
    for _ in range(calls):
        step()
    wall = time.perf_counter() - t0
    busy1, steal1 = machine_times()
    foreign = max(0.0, (busy1 - busy0) - (own_cpu() - own0))
    limit = max(0.02, 0.1 * wall)
    return wall / calls, wall, foreign, foreign <= limit and (steal1 - steal0) <= limit


def measure(step, samples, min_sample, quiet_wait):
    calls = 1
    while True:  # warm-up and calibration
        t0 = time.perf_counter()
        for _ in range(calls):
            step()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_sample / 2:
            break
        calls *= 2
    calls = max(1, round(min_sample / (elapsed / calls) + 0.5))
    quiet, noisy, foreign_total, wall_total = [], [], 0.0, 0.0
    for _ in range(3 * samples):
        if len(quiet) >= samples:
            break
        wait_for_quiet(quiet_wait)
        rewarm(step)
        per_call, wall, foreign, is_quiet = sample(step, calls)
        (quiet if is_quiet else noisy).append(per_call)
        foreign_total += foreign
        wall_total += wall
    used = sorted(quiet if len(quiet) >= 3 else quiet + noisy)
    n = len(used)
    median = used[n // 2] if n % 2 else (used[n // 2 - 1] + used[n // 2]) / 2
    quality = f"{len(quiet)}q/{len(noisy)}n, fg {foreign_total / wall_total:.2f}"
    if len(quiet) < 3:
        quality += " NOISY"
    return used[0], median, used[-1], quality


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--min-sample-ms", type=float, default=100)
    parser.add_argument("--wait-quiet", type=float, default=10,
                        help="before each sample wait up to this many seconds for a quiet machine")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = lenet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.randn(128, 1, 28, 28)
    labels = torch.randint(0, 10, (128,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()

    lo, med, hi, quality = measure(step, args.samples, args.min_sample_ms / 1e3, args.wait_quiet)
    print(f"| {args.threads} | {lo * 1e3:.2f} | {med * 1e3:.2f} | {hi * 1e3:.2f} | {128 / med:.0f} | {quality} |")
    print(f"RESULT torch lenet_step threads={args.threads} median_ms={med * 1e3:.3f} min_ms={lo * 1e3:.3f} "
          f"max_ms={hi * 1e3:.3f} quality={quality.replace(' ', '_')} torch={torch.__version__}", flush=True)


if __name__ == "__main__":
    main()
