#!/usr/bin/env python3
"""Generate the PyTorch reference fixture ``tests/reference/fixture.safetensors``.

The fixture lets the C++ test suite check taper's conv / batch-norm / ReLU /
max-pool / linear / cross-entropy / global-average-pool forward and backward
passes, plus two SGD (momentum + weight decay) steps, against PyTorch.

PyTorch is needed ONLY to regenerate this file; it is never a dependency of
taper itself (the committed .safetensors file is all the C++ test reads).
To regenerate (from the repository root):

    pip install torch numpy safetensors      # PyTorch from PyPI, CPU is enough
    python3 tests/reference/make_fixture.py

Everything runs in float32 on the CPU, single-threaded, with
``torch.manual_seed(0)`` and deterministic algorithms, so the output is
reproducible (up to last-bit differences between PyTorch versions/CPUs).

Case 1 (network, batch of 4, 5 classes):
    x [4,3,8,8] -> Conv2d(3->6, k3, stride 1, pad 1, bias)
                -> BatchNorm2d(6) in training mode (batch stats; eps 1e-5,
                   momentum 0.1; running_var updated with the UNBIASED batch
                   variance, n = N*H*W = 256)
                -> ReLU -> MaxPool2d(k2, s2) -> flatten (NCHW order) [4,96]
                -> Linear(96->5, bias) -> cross-entropy (mean over batch)
    Saved: inputs, initial parameters, every forward activation and the
    gradients of the loss at the initial weights; then, starting again from
    the initial parameters AND initial running stats, two steps of
    torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=5e-4) on the same batch
    (each: zero_grad, train-mode forward, backward, step), and the resulting
    parameters, running stats (after exactly two training forwards) and the
    second step's loss.

Case 2 (stride 2 / padding 0 conv + global average pooling):
    x2 [2,3,7,7] -> conv2d(w2 [4,3,3,3], no bias, stride 2, pad 0) [2,4,3,3]
                 -> mean over H,W -> out2 [2,4]
    Backward with upstream gradient g2 [2,4]: grad2.x = d(sum(out2*g2))/dx2,
    grad2.w likewise for w2.
"""

import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

# ---------------------------------------------------------------- settings
SEED = 0
N, C_IN, H, W = 4, 3, 8, 8
C_OUT = 6
NUM_CLASSES = 5
BN_EPS = 1e-5
BN_MOMENTUM = 0.1
LR = 0.1
SGD_MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
INIT_STD = 0.1  # weights/biases ~ N(0, 1) * INIT_STD

N2, H2, W2 = 2, 7, 7
C2_OUT = 4

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "fixture.safetensors")


def canonicalize_header(path):
    """Rewrite the safetensors JSON header with sorted keys.

    safetensors serialises ``__metadata__`` from an unordered map, so the key
    order (and hence the file bytes) can differ from run to run. Tensor data
    offsets are relative to the end of the header, so re-serialising the
    header (padded with spaces to a multiple of 8, as safetensors does) does
    not touch the data and keeps the file byte-for-byte reproducible.
    """
    with open(path, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen])
    data = blob[8 + hlen:]
    ordered = {}
    if "__metadata__" in header:
        ordered["__metadata__"] = dict(sorted(header.pop("__metadata__").items()))
    ordered.update(sorted(header.items()))
    hbytes = json.dumps(ordered, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)) + hbytes + data)


def c(t):
    """Detached, contiguous CPU copy (keeps dtype)."""
    return t.detach().clone().contiguous()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(C_IN, C_OUT, 3, stride=1, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(C_OUT, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.fc = nn.Linear(C_OUT * (H // 2) * (W // 2), NUM_CLASSES, bias=True)

    def forward(self, x):
        conv = self.conv(x)
        bn = self.bn(conv)
        relu = F.relu(bn)
        pool = F.max_pool2d(relu, kernel_size=2, stride=2)
        logits = self.fc(pool.flatten(1))
        return conv, bn, relu, pool, logits


def make_net(init):
    net = Net()
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name in init:
                t.copy_(init[name])
    net.train()
    return net


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)

    # ------------------------------------------------ inputs & init (case 1)
    x = torch.randn(N, C_IN, H, W)
    labels = torch.randint(0, NUM_CLASSES, (N,), dtype=torch.int64)
    fc_in = C_OUT * (H // 2) * (W // 2)
    init = {
        "conv.weight": torch.randn(C_OUT, C_IN, 3, 3) * INIT_STD,
        "conv.bias": torch.randn(C_OUT) * INIT_STD,
        "bn.weight": torch.rand(C_OUT) + 0.5,          # uniform(0.5, 1.5)
        "bn.bias": torch.randn(C_OUT) * 0.1,
        "bn.running_mean": torch.zeros(C_OUT),
        "bn.running_var": torch.ones(C_OUT),
        "fc.weight": torch.randn(NUM_CLASSES, fc_in) * INIT_STD,
        "fc.bias": torch.randn(NUM_CLASSES) * INIT_STD,
    }

    # ------------------------------------------------ inputs (case 2)
    x2 = torch.randn(N2, C_IN, H2, W2)
    w2 = torch.randn(C2_OUT, C_IN, 3, 3) * INIT_STD
    g2 = torch.randn(N2, C2_OUT)

    out = {
        "x": c(x), "labels": c(labels),
        "x2": c(x2), "w2": c(w2), "g2": c(g2),
    }
    for k, v in init.items():
        out["init." + k] = c(v)

    # ------------------------------------------------ case 1: fwd + bwd
    net = make_net(init)
    xg = x.clone().requires_grad_(True)
    conv, bn, relu, pool, logits = net(xg)
    loss = F.cross_entropy(logits, labels, reduction="mean")
    loss.backward()
    out.update({
        "out.conv": c(conv), "out.bn": c(bn), "out.relu": c(relu),
        "out.pool": c(pool), "out.logits": c(logits),
        "out.loss": c(loss).reshape(()),
        "grad.x": c(xg.grad),
        "grad.conv.weight": c(net.conv.weight.grad),
        "grad.conv.bias": c(net.conv.bias.grad),
        "grad.bn.weight": c(net.bn.weight.grad),
        "grad.bn.bias": c(net.bn.bias.grad),
        "grad.fc.weight": c(net.fc.weight.grad),
        "grad.fc.bias": c(net.fc.bias.grad),
    })

    # ------------------------------------------------ case 1: two SGD steps
    net = make_net(init)  # fresh: initial params AND initial running stats
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=SGD_MOMENTUM,
                          weight_decay=WEIGHT_DECAY)
    step_loss = None
    for _ in range(2):
        opt.zero_grad()
        *_, logits = net(x)
        step_loss = F.cross_entropy(logits, labels, reduction="mean")
        step_loss.backward()
        opt.step()
    out.update({
        "step2.conv.weight": c(net.conv.weight),
        "step2.conv.bias": c(net.conv.bias),
        "step2.bn.weight": c(net.bn.weight),
        "step2.bn.bias": c(net.bn.bias),
        "step2.fc.weight": c(net.fc.weight),
        "step2.fc.bias": c(net.fc.bias),
        "step2.bn.running_mean": c(net.bn.running_mean),
        "step2.bn.running_var": c(net.bn.running_var),
        "step2.loss": c(step_loss).reshape(()),
    })

    # ------------------------------------------------ case 2
    x2g = x2.clone().requires_grad_(True)
    w2g = w2.clone().requires_grad_(True)
    y2 = F.conv2d(x2g, w2g, bias=None, stride=2, padding=0).mean(dim=(2, 3))
    y2.backward(g2)
    out.update({
        "out2": c(y2),
        "grad2.x": c(x2g.grad),
        "grad2.w": c(w2g.grad),
    })

    # ------------------------------------------------ checks & save
    for k, v in out.items():
        assert v.dtype in (torch.float32, torch.int64), (k, v.dtype)
        assert v.is_contiguous() and v.device.type == "cpu", k
        assert torch.isfinite(v.float()).all(), k

    metadata = {
        "torch_version": torch.__version__,
        "description": ("taper reference fixture: conv(3->6,k3,s1,p1,bias)"
                        "->BN2d(train)->ReLU->MaxPool(2,2)->flatten->"
                        "Linear(96->5)->CE(mean), fwd/bwd + 2 SGD steps; "
                        "case 2: conv(3->4,k3,s2,p0,no bias)->global avg "
                        "pool, bwd with upstream g2"),
        "seed": str(SEED),
        "dtype": "float32",
        "device": "cpu",
        "init_std": str(INIT_STD),
        "bn_eps": str(BN_EPS),
        "bn_momentum": str(BN_MOMENTUM),
        "bn_running_var": "unbiased (n/(n-1)), n=N*H*W",
        "sgd_lr": str(LR),
        "sgd_momentum": str(SGD_MOMENTUM),
        "sgd_weight_decay": str(WEIGHT_DECAY),
        "sgd_dampening": "0",
        "sgd_nesterov": "false",
        "sgd_steps": "2",
        "conv_stride": "1", "conv_padding": "1",
        "pool_kernel": "2", "pool_stride": "2",
        "conv2_stride": "2", "conv2_padding": "0",
        "loss": "cross_entropy reduction=mean",
    }
    save_file(out, OUT_PATH, metadata=metadata)
    canonicalize_header(OUT_PATH)

    # Round-trip check: the file reloads to exactly what was computed.
    from safetensors import safe_open
    with safe_open(OUT_PATH, framework="pt") as f:
        assert set(f.keys()) == set(out), "key mismatch after save"
        for k in f.keys():
            assert torch.equal(f.get_tensor(k), out[k]), k
        assert f.metadata() == metadata, "metadata mismatch after save"

    print(f"wrote {OUT_PATH} ({os.path.getsize(OUT_PATH)} bytes), "
          f"torch {torch.__version__}")
    for k, v in out.items():
        extra = f"  value={v.item():.8f}" if v.dim() == 0 else ""
        print(f"  {k:24s} {str(v.dtype):14s} {list(v.shape)}{extra}")


if __name__ == "__main__":
    main()
