#!/usr/bin/env python3
"""Generate ``tests/reference/resnet_fixture.safetensors`` for tests/test_resnet.cpp.

The fixture checks taper's ResNets (nn/resnet.h) against PyTorch: logits in
training and evaluation mode, the gradients of a cross-entropy loss with
respect to every parameter, and the running statistics after one training
forward. torchvision is not installed here, so the networks are built below by
hand with torch.nn, mirroring torchvision.models.resnet module for module, so
that state-dict names and order are torchvision's. As a check of that mirror,
the script asserts the parameter counts torchvision publishes at 1000 classes.

PyTorch is needed ONLY to regenerate this file; the C++ test reads the
committed .safetensors file. From the repository root:

    pip install torch numpy safetensors
    python3 tests/reference/make_resnet_fixture.py

Two cases, each a prefix of the tensor names:
    cifar.    resnet8, CIFAR stem, width 0.25 (channels 4-8-16), 10 classes,
              x [4,3,8,8]: BasicBlocks and projection shortcuts
    imagenet. resnet50, ImageNet stem, width 1/64 (planes 1-2-4-8, outputs
              4-8-16-32), 5 classes, x [4,3,16,16]: Bottlenecks, the 7x7 stem
              and the padded max pool
Per case:
    x, labels                      inputs (labels int64)
    params.<name>, buffers.<name>  the network (BN weights, biases and running
                                   stats randomised so that no term is trivial)
    logits.train, loss             training-mode forward from those buffers
    grad.<name>                    d loss / d parameter
    buffers_after.<name>           running stats after that forward
    logits.eval                    evaluation-mode forward with the initial
                                   buffers (not the updated ones)
Metadata <case>.param_order lists the parameter names in torchvision's order.
"""

import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

from make_fixture import canonicalize_header  # sorted header: byte-identical reruns

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


def c(t):
    return t.detach().clone().contiguous()


def make_case(prefix, arch, stem, width, classes, x_shape):
    net = ResNet(arch, stem, width, classes)
    randomise_batch_norm(net)
    x = torch.randn(*x_shape)
    labels = torch.randint(0, classes, (x_shape[0],), dtype=torch.int64)
    out = {"x": c(x), "labels": c(labels)}
    buffers = {k: c(v) for k, v in net.state_dict().items() if "running" in k}
    params = dict(net.named_parameters())
    out.update({"params." + k: c(v) for k, v in params.items()})
    out.update({"buffers." + k: v for k, v in buffers.items()})

    net.train()
    logits = net(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    out.update({"logits.train": c(logits), "loss": c(loss).reshape(())})
    out.update({"grad." + k: c(p.grad) for k, p in params.items()})
    out.update({"buffers_after." + k: c(v) for k, v in net.state_dict().items() if "running" in k})

    with torch.no_grad():
        for k, v in buffers.items():
            net.get_buffer(k).copy_(v)
        net.eval()
        out["logits.eval"] = c(net(x))
    tensors = {f"{prefix}.{k}": v for k, v in out.items()}
    metadata = {f"{prefix}.config": f"{arch} stem={stem} width={width} classes={classes} x={list(x_shape)}",
                f"{prefix}.param_order": ",".join(params)}
    return tensors, metadata


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    check_torchvision_counts()
    tensors, metadata = {}, {"torch_version": torch.__version__,
                             "loss": "cross_entropy reduction=mean",
                             "batch_norm": "eps 1e-5, momentum 0.1, running_var unbiased"}
    for case in [("cifar", "resnet8", "cifar", 0.25, 10, (4, 3, 8, 8)),
                 ("imagenet", "resnet50", "imagenet", 1 / 64, 5, (4, 3, 16, 16))]:
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
