"""Builds hybridc's conformance zoo: real PyTorch architectures as users export them.

    python3 tests/zoo/make_zoo.py          (from the repository root; ~1 minute on a CPU)

Needs torch, torchvision, onnx, onnxscript (the dynamo exporter) and onnxruntime.
torch and torchvision are needed only here, never by the tests: the exported
files are committed under tests/fixtures/zoo/ and tests/zoo.rs reads those.
(CPU wheels from PyPI are enough: `pip install torch torchvision onnxscript`.)

What it makes, for each model NAME (tests/fixtures/zoo/README.md lists them):
  NAME.onnx        the float model, batch 1, exported by torch.onnx.export
                   (TorchScript exporter, opset 13, unless the table says dynamo,
                   opset 18); every file under 2 MiB
  NAME_calib.npy   float32 [N, ...input shape without batch]: 32 calibration inputs
  NAME_x.npy       float32 [3, ...]: held-out inputs (other seed than calib)
  NAME_y.npy       float32 [3, ...output shape without batch]: onnxruntime's float
                   outputs on NAME_x, one run per input (the oracle of tests/zoo.rs)
  README.md        the table: model, source, exporter, input, params, MACs, files

Weights are random (no downloads: weights=None) from fixed seeds. So that
activations have realistic ranges, BatchNorm layers get random affine
parameters and running statistics measured on 64 inputs of the same kind
(train-mode forward passes, no gradient step); the models are then exported
in eval mode (the exporter folds BatchNorm into the convolutions or keeps it;
we keep what it gives). Inputs: images are smooth random 8-bit images scaled to [0, 1]
(coarse noise upsampled plus a little fine noise) normalised with ImageNet's
mean and std, NCHW as PyTorch has them; the keyword spotter gets MFCC-like
features [40 coefficients, 49 frames] (random normal smoothed along time).

MACs count convolutions (incl. transposed), and Linear layers: one
multiply-accumulate per weight per output position, measured with forward hooks.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models import mnasnet, mobilenet_v2, mobilenet_v3_small, shufflenet_v2_x0_5
from torchvision.models.resnet import BasicBlock
from torchvision.models.squeezenet import Fire

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "zoo")
N_CALIB, N_HELD_OUT = 32, 3
MAX_ONNX = 2 * 1024 * 1024

torch.set_num_threads(1)

# ---------------------------------------------------------------- inputs


def images(n, size, seed, channels=3):
    """Smooth random images in [0, 1], normalised like ImageNet (NCHW float32)."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.uniform(0, 1, (n, channels, 4, 4)).astype(np.float32))
    mid = torch.from_numpy(rng.uniform(-0.25, 0.25, (n, channels, 16, 16)).astype(np.float32))
    x = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    x = x + F.interpolate(mid, size=(size, size), mode="bilinear", align_corners=False)
    x = x + torch.from_numpy(rng.normal(0, 0.03, (n, channels, size, size)).astype(np.float32))
    x = torch.round(x.clamp(0, 1) * 255) / 255  # 8-bit pixels, as a camera gives
    if channels == 3:
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x = (x - mean) / std
    return x.numpy().astype(np.float32)


def mfcc(n, seed, coeffs=40, frames=49):
    """MFCC-like features [n, coeffs, frames]: random normal smoothed along time."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 1, (n, coeffs, frames + 4)).astype(np.float32)
    k = np.array([1, 2, 3, 2, 1], np.float32) / 9 * 2
    x = np.stack([np.stack([np.convolve(r, k, mode="valid") for r in s]) for s in raw])
    scale = np.linspace(3.0, 0.5, coeffs, dtype=np.float32)[None, :, None]  # low coefficients vary most
    return (x * scale).astype(np.float32)


# ---------------------------------------------------------------- TinyML blocks


class KwsConv1d(nn.Module):
    """Keyword spotter on MFCC frames: Conv1d, depthwise-separable Conv1d blocks, mean over time, Linear."""

    def __init__(self, coeffs=40, width=64, classes=12):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(coeffs, width, 5, stride=2, padding=2), nn.BatchNorm1d(width), nn.ReLU())
        blocks = []
        for _ in range(3):
            blocks += [
                nn.Conv1d(width, width, 3, padding=1, groups=width), nn.BatchNorm1d(width), nn.ReLU(),
                nn.Conv1d(width, width, 1), nn.BatchNorm1d(width), nn.ReLU(),
            ]
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        return self.fc(self.blocks(self.stem(x)).mean(2))


class SqueezeExcite(nn.Module):
    def __init__(self, ch, squeeze):
        super().__init__()
        self.fc1 = nn.Conv2d(ch, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, ch, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = torch.sigmoid(self.fc2(F.silu(self.fc1(s))))
        return x * s


class MBConv(nn.Module):
    """EfficientNet's inverted residual: expand 1x1, depthwise 3x3, squeeze-excite, project 1x1; SiLU."""

    def __init__(self, cin, cout, expand, stride):
        super().__init__()
        mid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.expand = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU())
        self.dw = nn.Sequential(nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.SiLU())
        self.se = SqueezeExcite(mid, max(1, cin // 4))
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.use_res else y


class MBConvSE(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.SiLU())
        self.blocks = nn.Sequential(MBConv(16, 16, 4, 1), MBConv(16, 24, 4, 2), MBConv(24, 24, 4, 1))
        self.head = nn.Sequential(nn.Conv2d(24, 64, 1, bias=False), nn.BatchNorm2d(64), nn.SiLU())
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.head(self.blocks(self.stem(x))), 1), 1))


def cbr(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU())


class UNetUpsample(nn.Module):
    """Tiny encoder-decoder (segmentation-like): strided convs down, nearest upsampling up, skip concat."""

    def __init__(self, classes=2):
        super().__init__()
        self.e1, self.e2, self.e3 = cbr(3, 8), cbr(8, 16, 2), cbr(16, 32, 2)
        self.d2, self.d1 = cbr(32 + 16, 16), cbr(16 + 8, 8)
        self.out = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(a)
        c = self.e3(b)
        u = self.d2(torch.cat([F.interpolate(c, scale_factor=2.0, mode="nearest"), b], 1))
        u = self.d1(torch.cat([F.interpolate(u, scale_factor=2.0, mode="nearest"), a], 1))
        return self.out(u)


class AutoencoderConvT(nn.Module):
    """Convolutional autoencoder (anomaly detection): strided convs down, ConvTranspose stride 2 up."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(cbr(1, 8, 2), cbr(8, 16, 2))
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1),
        )

    def forward(self, x):
        return self.dec(self.enc(x))


class CnnMeanHead(nn.Module):
    """Plain CNN whose head is x.mean((2, 3)) (ReduceMean, keepdims 0) feeding a Linear."""

    def __init__(self, classes=10):
        super().__init__()
        self.f = nn.Sequential(cbr(3, 16), nn.MaxPool2d(2), cbr(16, 32), nn.MaxPool2d(2), cbr(32, 64))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(self.f(x).mean((2, 3)))


def dws(cin, cout, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU6(),
        nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6(),
    )


class DsCnnRgb(nn.Module):
    """Depthwise-separable CNN (MobileNetV1-like) on a 3-channel image, average-pool head."""

    def __init__(self, classes=10):
        super().__init__()
        self.f = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            dws(16, 32, 1), dws(32, 64, 2), dws(64, 64, 1), dws(64, 128, 2),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = nn.Linear(128, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.f(x), 1))


class ResNetSmall(nn.Module):
    """ResNet-18's layout (torchvision BasicBlock, [2, 2, 2, 2]) at 1/8 of its width."""

    def __init__(self, widths=(8, 16, 32, 64), classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or cin != w:
                down = nn.Sequential(nn.Conv2d(cin, w, 1, stride, bias=False), nn.BatchNorm2d(w))
            layers += [BasicBlock(cin, w, stride, down), BasicBlock(w, w)]
            cin = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class SqueezeNetHalf(nn.Module):
    """SqueezeNet 1.1's layout (torchvision Fire modules) at half its channel counts."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(32, 8, 32, 32), Fire(64, 8, 32, 32),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(128, 24, 96, 96), Fire(192, 24, 96, 96), Fire(192, 32, 128, 128), Fire(256, 32, 128, 128),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(256, classes, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class DsCnnKws(nn.Module):
    """Hello Edge's DS-CNN keyword spotter (MLPerf Tiny KWS layout) on MFCC [1, 49 frames, 10 coefficients]."""

    def __init__(self, width=64, classes=12):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, (10, 4), (2, 2), (5, 1)), nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = nn.Sequential(*[dws_relu(width) for _ in range(4)])
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1))


def dws_relu(ch):
    return nn.Sequential(
        nn.Conv2d(ch, ch, 3, 1, 1, groups=ch), nn.BatchNorm2d(ch), nn.ReLU(),
        nn.Conv2d(ch, ch, 1), nn.BatchNorm2d(ch), nn.ReLU(),
    )


class FcAutoencoder(nn.Module):
    """MLPerf Tiny's anomaly-detection autoencoder layout (Linear-BN-ReLU, 640-128-...-8-...-640) at half width."""

    def __init__(self, n_in=640, hidden=64, code=8):
        super().__init__()
        dims = [n_in, hidden, hidden, code, hidden, hidden]
        layers = []
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]
        self.f = nn.Sequential(*layers, nn.Linear(hidden, n_in))

    def forward(self, x):
        return self.f(x)


def log_mel(n, seed, size=640):
    """Log-mel-like frames [n, 640] (5 frames of 128 bands): smooth along bands, offset per band."""
    rng = np.random.default_rng(seed)
    x = mfcc(n, seed, coeffs=5, frames=128).reshape(n, size)
    return (x * 0.5 + rng.normal(0, 0.1, (1, size)) - 1).astype(np.float32)


# ---------------------------------------------------------------- the zoo

# name, constructor, source, exporter, input maker (n, seed) -> array, shape text
ZOO = [
    ("mobilenet_v2", lambda: mobilenet_v2(weights=None, width_mult=0.35, num_classes=10),
     "torchvision mobilenet_v2(width_mult=0.35, num_classes=10)", "torchscript", lambda n, s: images(n, 64, s)),
    ("mobilenet_v3_small", lambda: mobilenet_v3_small(weights=None, width_mult=0.5, num_classes=10),
     "torchvision mobilenet_v3_small(width_mult=0.5, num_classes=10)", "torchscript", lambda n, s: images(n, 64, s)),
    ("mnasnet", lambda: mnasnet.MNASNet(0.35, num_classes=10),
     "torchvision MNASNet(alpha=0.35, num_classes=10) (mnasnet0_5 is 3.7 MB)", "torchscript", lambda n, s: images(n, 64, s)),
    ("shufflenet_v2", lambda: shufflenet_v2_x0_5(weights=None, num_classes=10),
     "torchvision shufflenet_v2_x0_5(num_classes=10)", "torchscript", lambda n, s: images(n, 64, s)),
    ("squeezenet", SqueezeNetHalf,
     "SqueezeNet 1.1 layout, torchvision Fire modules, half the channels", "torchscript", lambda n, s: images(n, 64, s)),
    ("resnet_small", ResNetSmall,
     "ResNet-18 layout, torchvision BasicBlock [2,2,2,2], widths 8-64, 3x3 stem", "torchscript", lambda n, s: images(n, 32, s)),
    ("kws_conv1d", KwsConv1d,
     "keyword spotter: Conv1d + depthwise-separable Conv1d, mean over time, Linear", "torchscript", lambda n, s: mfcc(n, s)),
    ("mbconv_se", MBConvSE,
     "EfficientNet-style inverted residuals, squeeze-excite, SiLU", "dynamo", lambda n, s: images(n, 32, s)),
    ("unet_upsample", UNetUpsample,
     "encoder-decoder, nearest upsampling (Resize), skip Concat", "torchscript", lambda n, s: images(n, 32, s)),
    ("autoencoder_convt", AutoencoderConvT,
     "conv autoencoder, ConvTranspose2d stride 2", "torchscript", lambda n, s: images(n, 32, s, channels=1)),
    ("cnn_mean_head", CnnMeanHead,
     "plain CNN, x.mean((2, 3)) head into Linear", "torchscript", lambda n, s: images(n, 32, s)),
    ("ds_cnn_rgb", DsCnnRgb,
     "depthwise-separable CNN on RGB, AdaptiveAvgPool, Linear", "dynamo", lambda n, s: images(n, 32, s)),
    ("kws_dscnn2d", DsCnnKws,
     "Hello Edge DS-CNN keyword spotter (2-D convs on MFCC, 1 channel)", "torchscript",
     lambda n, s: mfcc(n, s, coeffs=10).transpose(0, 2, 1)[:, None].copy()),
    ("ad_fc_autoencoder", FcAutoencoder,
     "MLPerf Tiny AD autoencoder layout (Linear-BN-ReLU), half width", "torchscript", log_mel),
]


def randomize_bn(model, make_inputs, seed):
    """Random BatchNorm affine parameters, running statistics from 64 inputs."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        with torch.no_grad():
            m.weight.copy_(torch.empty_like(m.weight).uniform_(0.5, 1.5, generator=g))
            m.bias.copy_(torch.empty_like(m.bias).normal_(0, 0.2, generator=g))
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    if bns:
        model.train()
        with torch.no_grad():
            x = torch.from_numpy(make_inputs(64, seed + 1000))
            for chunk in x.split(16):
                model(chunk)
    model.eval()


def count_macs(model, x):
    macs = [0]

    def hook(m, inp, out):
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            macs[0] += out.numel() * (m.in_channels // m.groups) * int(np.prod(m.kernel_size))
        elif isinstance(m, nn.ConvTranspose2d):
            macs[0] += inp[0].numel() * (m.out_channels // m.groups) * int(np.prod(m.kernel_size))
        elif isinstance(m, nn.Linear):
            macs[0] += out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return macs[0]


def export(model, x, path, exporter):
    if exporter == "dynamo":
        torch.onnx.export(model, (x,), path, opset_version=18, dynamo=True, external_data=False,
                          input_names=["input"], output_names=["output"])
    else:
        torch.onnx.export(model, (x,), path, opset_version=13, dynamo=False,
                          input_names=["input"], output_names=["output"])
    onnx.checker.check_model(onnx.load(path))


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    rows = []
    for i, (name, make, source, exporter, make_inputs) in enumerate(ZOO):
        torch.manual_seed(100 + i)
        model = make()
        randomize_bn(model, make_inputs, 2000 + i)
        calib = make_inputs(N_CALIB, 3000 + i)
        held = make_inputs(N_HELD_OUT, 4000 + i)
        params = sum(p.numel() for p in model.parameters())
        macs = count_macs(model, torch.from_numpy(held[:1]))
        path = os.path.join(OUT, f"{name}.onnx")
        if not only or name in only:
            export(model, torch.from_numpy(held[:1]), path, exporter)
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            inp = sess.get_inputs()[0].name
            y = np.concatenate([sess.run(None, {inp: held[k:k + 1]})[0] for k in range(N_HELD_OUT)]).astype(np.float32)
            with torch.no_grad():
                t = model(torch.from_numpy(held)).numpy()
            err = np.abs(y - t).max() / max(np.abs(t).max(), 1e-9)
            assert err < 1e-3, f"{name}: onnxruntime and torch disagree ({err})"
            np.save(os.path.join(OUT, f"{name}_calib.npy"), calib)
            np.save(os.path.join(OUT, f"{name}_x.npy"), held)
            np.save(os.path.join(OUT, f"{name}_y.npy"), y)
        size = os.path.getsize(path)
        assert size < MAX_ONNX, f"{name}.onnx is {size} bytes"
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        y_shape = list(np.load(os.path.join(OUT, f"{name}_y.npy")).shape[1:])
        rows.append((name, source, exporter, list(held.shape[1:]), y_shape, params, macs, size, ops))
        print(f"{name:20s} params {params:>8d}  MACs {macs:>10d}  onnx {size:>8d} B  {', '.join(ops)}", flush=True)

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("# Conformance zoo\n\n")
        f.write("Real PyTorch architectures at reduced width and resolution, random weights from fixed\n")
        f.write("seeds, exported as users export them. Written by `tests/zoo/make_zoo.py` (which documents\n")
        f.write("the inputs and the files); checked by `tests/zoo.rs`; results in `docs/zoo.md`.\n")
        f.write(f"torch {torch.__version__.split('+')[0]}, torchvision {torchvision.__version__.split('+')[0]}, "
                f"onnxruntime {ort.__version__}. Inputs are NCHW float32 (batch 1).\n\n")
        f.write("| model | source | exporter | input | output | params | MACs | ONNX B | ONNX ops |\n")
        f.write("|---|---|---|---|---|---:|---:|---:|---|\n")
        for name, source, exporter, ishape, oshape, params, macs, size, ops in rows:
            opset = "dynamo, opset 18" if exporter == "dynamo" else "TorchScript, opset 13"
            f.write(f"| {name} | {source} | {opset} | {ishape} | {oshape} | {params:,} | {macs:,} | {size:,} | {' '.join(ops)} |\n")
        f.write(f"\nEach model: `NAME.onnx`, `NAME_calib.npy` ({N_CALIB} calibration inputs), `NAME_x.npy` "
                f"({N_HELD_OUT} held-out inputs), `NAME_y.npy` (onnxruntime's float outputs on them). "
                f"All files: {total / 2**20:.1f} MiB.\n")
    print(f"total {total / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
