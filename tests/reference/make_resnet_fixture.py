#!/usr/bin/env python3
"""Generate ``tests/reference/resnet_fixture.safetensors`` for tests/test_resnet.cpp.

The fixture checks taper's ResNets (nn/resnet.h) against PyTorch: logits, the
gradients of a cross-entropy loss with respect to every parameter, and the
running statistics after a training-mode forward. torchvision is not
installed here, so the networks are built below by hand with torch.nn,
mirroring torchvision.models.resnet module for module (names, order,
v1.5 Bottleneck); as a check of that mirror the script asserts the parameter
counts torchvision publishes at 1000 classes.

PyTorch is needed ONLY to regenerate this file; the C++ test reads the
committed .safetensors file. From the repository root:

    pip install torch numpy safetensors
    python3 tests/reference/make_resnet_fixture.py

Two cases, each a prefix of the tensor names:
    cifar.    resnet8, CIFAR stem, width 0.25 (channels 4-8-16), 10 classes,
              x [4,3,8,8]: BasicBlocks and projection shortcuts; modes train
              and eval
    imagenet. resnet50, ImageNet stem, width 1/64 (planes 1-2-4-8, outputs
              4-8-16-32), 5 classes, x [4,3,16,16]: Bottlenecks, the 7x7 stem
              and the padded max pool; mode eval only (see
              check_well_conditioned)
Per case:
    x, labels                      inputs (labels int64)
    params.<name>, buffers.<name>  the network; BN weights, biases and running
                                   stats randomised so that no term is trivial
Per case and mode (train, eval), each pass starting from those tensors:
    <mode>.logits, <mode>.loss     forward, cross-entropy (mean)
    <mode>.grad.<name>             d loss / d parameter
    train.buffers_after.<name>     running stats after the training forward
Metadata <case>.param_order lists the parameter names in torchvision's order.
Every saved result is asserted to lie within 1e-5 of a float64 rerun.
"""

import copy
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

from make_fixture import canonicalize_header  # sorted header: byte-identical reruns

# Seeds 0-2 and 4-7 fail check_well_conditioned: with 1-channel layers at
# width 1/64 a ReLU is often dead for the whole batch (all-zero gradients) or
# a gradient cancels to rounding noise. The checks, not the seed, are the guard.
SEED = 3
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resnet_fixture.safetensors")


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4  # torchvision v1.5: the stride sits on the 3x3 conv

    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


ARCHS = {  # name: (block, blocks per stage, base width)
    "resnet8": (BasicBlock, [1, 1, 1], 16),
    "resnet20": (BasicBlock, [3, 3, 3], 16),
    "resnet18": (BasicBlock, [2, 2, 2, 2], 64),
    "resnet34": (BasicBlock, [3, 4, 6, 3], 64),
    "resnet50": (Bottleneck, [3, 4, 6, 3], 64),
    "resnet101": (Bottleneck, [3, 4, 23, 3], 64),
    "resnet152": (Bottleneck, [3, 8, 36, 3], 64),
}


class ResNet(nn.Module):
    def __init__(self, arch, stem, width, num_classes):
        super().__init__()
        block, layers, base = ARCHS[arch]
        self.inplanes = max(1, int(base * width))
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(3, self.inplanes, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv2d(3, self.inplanes, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        for i, n in enumerate(layers):
            planes = max(1, int((base << i) * width))
            setattr(self, f"layer{i + 1}", self._make_layer(block, planes, n, 1 if i == 0 else 2))
        self.fc = nn.Linear(self.inplanes, num_classes)
        self.num_stages = len(layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, 1, None) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def check_torchvision_counts():
    """The hand-built mirror has torchvision's published parameter counts."""
    published = {"resnet18": 11689512, "resnet34": 21797672, "resnet50": 25557032,
                 "resnet101": 44549160, "resnet152": 60192808}
    for arch, count in published.items():
        got = sum(p.numel() for p in ResNet(arch, "imagenet", 1.0, 1000).parameters())
        assert got == count, (arch, got, count)
    resnet20 = sum(p.numel() for p in ResNet("resnet20", "cifar", 1.0, 10).parameters())
    print(f"parameter counts match torchvision; resnet20 (projection shortcuts, 10 classes): {resnet20}")


def randomise_batch_norm(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)


def run(net, state, x, labels, mode):
    """One forward and backward pass from `state`: logits, loss, gradients."""
    net.load_state_dict(state)
    net.train(mode == "train")
    net.zero_grad()
    logits = net(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    out = {"logits": logits, "loss": loss.reshape(())}
    out.update({"grad." + k: p.grad for k, p in net.named_parameters()})
    if mode == "train":
        out.update({"buffers_after." + k: v for k, v in net.state_dict().items() if "running" in k})
    return {f"{mode}.{k}": v.detach().clone().contiguous() for k, v in out.items()}


def check_well_conditioned(prefix, results, results64):
    """PyTorch's float32 results lie within 1e-5 of float64 ones, so a float32
    implementation can meet the C++ test's 1e-4. Tiny deep networks with
    training-mode batch norm miss this by far (a channel or two per layer, a
    few values per batch statistic), which is why the Bottleneck case is
    checked in evaluation mode only."""
    for k, v in results.items():
        scale = results64[k].abs().max().item()
        assert scale > 0, f"{prefix}.{k} is all zeros: that part of the network goes untested"
        gap = (v.double() - results64[k]).abs().max().item() / scale
        assert gap <= 1e-5, f"{prefix}.{k}: float32 vs float64 gap {gap:.1e}"


def make_case(prefix, arch, stem, width, classes, x_shape, modes):
    net = ResNet(arch, stem, width, classes)
    randomise_batch_norm(net)
    x = torch.randn(*x_shape)
    labels = torch.randint(0, classes, (x_shape[0],), dtype=torch.int64)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    out = {"x": x, "labels": labels}
    out.update({"params." + k: v for k, v in state.items() if "running" not in k and "num_batches" not in k})
    out.update({"buffers." + k: v for k, v in state.items() if "running" in k})
    net64 = copy.deepcopy(net).double()
    state64 = {k: v.double() if v.is_floating_point() else v for k, v in state.items()}
    for mode in modes:
        results = run(net, state, x, labels, mode)
        check_well_conditioned(prefix, results, run(net64, state64, x.double(), labels, mode))
        out.update(results)
    tensors = {f"{prefix}.{k}": v.contiguous() for k, v in out.items()}
    metadata = {f"{prefix}.config": f"{arch} stem={stem} width={width} classes={classes} x={list(x_shape)}",
                f"{prefix}.param_order": ",".join(k for k, _ in net.named_parameters())}
    return tensors, metadata


def main():
    check_torchvision_counts()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    tensors, metadata = {}, {"torch_version": torch.__version__,
                             "loss": "cross_entropy reduction=mean",
                             "batch_norm": "eps 1e-5, momentum 0.1, running_var unbiased"}
    for case in [("cifar", "resnet8", "cifar", 0.25, 10, (4, 3, 8, 8), ["train", "eval"]),
                 ("imagenet", "resnet50", "imagenet", 1 / 64, 5, (4, 3, 16, 16), ["eval"])]:
        t, m = make_case(*case)
        tensors.update(t)
        metadata.update(m)
    for k, v in tensors.items():
        assert v.dtype in (torch.float32, torch.int64) and torch.isfinite(v.float()).all(), k
    save_file(tensors, OUT_PATH, metadata=metadata)
    canonicalize_header(OUT_PATH)
    print(f"wrote {OUT_PATH} ({os.path.getsize(OUT_PATH)} bytes), {len(tensors)} tensors, torch {torch.__version__}")


if __name__ == "__main__":
    main()
