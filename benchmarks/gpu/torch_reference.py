#!/usr/bin/env python3
"""Times the training steps of GpuNet's models in PyTorch, for a side-by-side images/s ratio.

The same architectures and batch sizes as GpuNet's defaults (mlp: 784-100-10, SGD, batch 200; mlp-deep:
512-512-256-128-64, Adam, batch 400; vgg: the reference ConvNet, Adam, batch 32, at width 1 and 0.125), on 1x28x28
inputs, fp32 tensors with TF32 off (the default here) or, with --tf32, on for matmuls and cuDNN convolutions.
Writes a JSON object {"tf32": bool, model: images/s, ...}.
usage: torch_reference.py [--out FILE] [--tf32] [--dry]   (--dry: CPU, few steps)
"""
import argparse
import json
import time

import torch
from torch import nn

VGG_BLOCKS = [(64, True), (128, True), (256, False), (256, True), (512, False), (512, True), (512, False), (512, True)]


def mlp(hidden):
    layers, width = [nn.Flatten()], 784
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 10))


def vgg(scale):
    layers, channels = [], 1
    for out, pool in VGG_BLOCKS:
        out = max(1, round(out * scale))
        layers += [nn.Conv2d(channels, out, 3, 1, 1), nn.BatchNorm2d(out), nn.ReLU()]
        if pool:
            layers.append(nn.MaxPool2d(3, 2, 1))
        channels = out
    return nn.Sequential(*layers, nn.AvgPool2d(1, 1, 0), nn.Flatten(), nn.Linear(channels, 10))


MODELS = {
    "mlp": (lambda: mlp([100]), "sgd", 2e-3, 200),
    "mlp-deep": (lambda: mlp([512, 512, 256, 128, 64]), "adam", 2e-4, 400),
    "vgg": (lambda: vgg(1.0), "adam", 1e-4, 32),
    "vgg-w0.125": (lambda: vgg(0.125), "adam", 1e-4, 32),
}


def images_per_second(name, device, steps, warmup):
    make, optimizer_name, lr, batch = MODELS[name]
    torch.manual_seed(0)
    model = make().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr) if optimizer_name == "sgd" else torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, 1, 28, 28, device=device) * 255
    y = torch.randint(0, 10, (batch,), device=device)

    def step():
        optimizer.zero_grad(set_to_none=False)
        loss_fn(model(x), y).backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="torch.json")
    parser.add_argument("--tf32", action="store_true", help="let matmuls and cuDNN convolutions use TF32 tensor cores")
    parser.add_argument("--dry", action="store_true")
    args = parser.parse_args()
    # Set both ways explicitly: PyTorch's defaults have changed between versions (cuDNN's is on, matmul's off).
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    print(f"TF32 {'on' if args.tf32 else 'off'}: torch.backends.cuda.matmul.allow_tf32 = {torch.backends.cuda.matmul.allow_tf32}, "
          f"torch.backends.cudnn.allow_tf32 = {torch.backends.cudnn.allow_tf32}", flush=True)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.dry else "cpu")
    steps, warmup = (2, 1) if args.dry else (100, 10)
    mode = "tf32" if args.tf32 else "fp32"
    results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "torch": torch.__version__, "tf32": args.tf32}
    for name in MODELS:
        if args.dry and name == "vgg":
            continue
        results[name] = images_per_second(name, device, steps, warmup)
        print(f"{name} {mode}: {results[name]:.0f} images/s", flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
