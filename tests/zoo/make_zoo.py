"""Builds hybridc's conformance zoo: real PyTorch architectures as users export them.

    nice -n 10 python3 tests/zoo/make_zoo.py [NAME...]   (from the repository root; ~10 minutes
                                                      on one CPU thread; NAMEs rebuild only those)

Needs torch, torchvision, onnx, onnxscript (the dynamo exporter) and onnxruntime.
torch and torchvision are needed only here, never by the tests: the exported
files are committed under tests/fixtures/zoo/ and tests/zoo.rs reads those.
(CPU wheels from PyPI are enough: `pip install torch torchvision onnxscript`.)

What it makes, for each model NAME (tests/fixtures/zoo/README.md lists them):
  NAME.onnx        the float model, batch 1, exported by torch.onnx.export
                   (TorchScript exporter, opset 13, unless the table says dynamo,
                   opset 18); every file under 2 MiB
  NAME_calib.npy   float32 [N, ...input shape without batch]: 32 calibration inputs
                   (training split)
  NAME_x.npy       float32 [3, ...]: held-out inputs (test split)
  NAME_y.npy       float32 [3, ...output shape without batch]: onnxruntime's float
                   outputs on NAME_x, one run per input (the oracle of tests/zoo.rs)
  README.md        the table: model, source, exporter, input, params, MACs, files;
                   and how each model was trained, with its test score

The models are briefly trained (no downloads: weights=None, fixed seeds, one
CPU thread, deterministic). Random weights are not what users bring, and many
random-weight deep networks are chaotic (40 dB of input noise came out at 6-11
dB on MobileNetV2, ShuffleNetV2, MnasNet; SqueezeNet's output did not depend on
its input at all), so no int8 quantizer could reach a useful SQNR on them.
Training: Adam with a one-cycle learning-rate schedule, a few hundred steps
(ZOO gives steps, peak lr and batch per model), then BatchNorm running
statistics re-measured for the final weights; the models are exported in eval
mode (the exporter folds BatchNorm into the convolutions or keeps it; we keep
what it gives). Data:
  - image classifiers: Fashion-MNIST (/usr/share/datasets/fashion-mnist, idx
    files read with numpy), 10 classes. 28x28 grayscale resized bilinearly to
    the model's size, then made RGB with a per-image random per-channel gain and
    offset (so the channels differ), rounded to 8-bit pixels, normalised with
    ImageNet's mean and std, NCHW as PyTorch has them;
  - unet_upsample: the same images, per-pixel garment mask (grayscale > 0.1);
  - autoencoder_convt: the grayscale images in [0, 1], reconstruction MSE;
  - keyword spotters: synthetic MFCC-like features [40 coefficients, 49 frames]
    (kws_dscnn2d: [1, 49 frames, 10 coefficients]): which of 12 fixed smooth
    templates, with random gain and time shift, lies under MFCC-like noise;
  - ad_fc_autoencoder: synthetic log-mel-like frames [640] (5 frames of 128
    bands: per-band offset plus a random mix of 4 smooth components plus noise),
    reconstruction MSE.
Calibration inputs come from the training split, held-out inputs from the test
split (synthetic tasks: other seeds of the same generator).

MACs count convolutions (incl. transposed), and Linear layers: one
multiply-accumulate per weight per output position, measured with forward hooks.
"""
import gzip
import os
import sys
import time

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

# ---------------------------------------------------------------- data

FMNIST = "/usr/share/datasets/fashion-mnist"
MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
_fmnist = {}


def read_idx(path):
    """An idx file (gzip): big-endian magic (type, ndim), the dimensions, then uint8 data."""
    with gzip.open(path) as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fmnist(split):
    """(images uint8 [N, 28, 28], labels int64 [N]) of Fashion-MNIST's 'train' or 'test' split."""
    if split not in _fmnist:
        p = "train" if split == "train" else "t10k"
        _fmnist[split] = (read_idx(f"{FMNIST}/{p}-images-idx3-ubyte.gz"),
                          read_idx(f"{FMNIST}/{p}-labels-idx1-ubyte.gz").astype(np.int64))
    return _fmnist[split]


def fmnist_gray(split, n, rng, size):
    """n random images of the split, [n, 1, size, size] in [0, 1] (bilinear resize), and their labels."""
    imgs, labels = fmnist(split)
    idx = rng.integers(0, len(imgs), n)
    x = torch.from_numpy(imgs[idx].astype(np.float32) / 255)[:, None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return x.numpy(), labels[idx]


def tint_rgb(gray, rng):
    """Grayscale [n, 1, H, W] -> RGB: per-image random per-channel gain and offset (so the channels
    differ), 8-bit pixels as a camera gives, then ImageNet's mean/std normalisation (NCHW float32)."""
    n = len(gray)
    gain = rng.uniform(0.45, 1.0, (n, 3, 1, 1)).astype(np.float32)
    offset = rng.uniform(0.0, 0.25, (n, 3, 1, 1)).astype(np.float32)
    x = np.round(np.clip(offset + gain * gray, 0, 1) * 255) / 255
    return ((x - MEAN) / STD).astype(np.float32)


class FashionClasses:
    """Fashion-MNIST's 10 classes on tinted RGB images of size x size."""
    loss, dataset = "ce", "Fashion-MNIST (RGB-tinted)"

    def __init__(self, size):
        self.size = size

    def sample(self, split, n, rng):
        g, y = fmnist_gray(split, n, rng, self.size)
        return tint_rgb(g, rng), y


class FashionSegment(FashionClasses):
    """Per-pixel garment / background (grayscale > 0.1) on tinted RGB images."""
    loss, dataset = "seg", "Fashion-MNIST (RGB-tinted), garment mask"

    def sample(self, split, n, rng):
        g, _ = fmnist_gray(split, n, rng, self.size)
        return tint_rgb(g, rng), (g[:, 0] > 0.1).astype(np.int64)


class FashionReconstruct:
    """Grayscale Fashion-MNIST images in [0, 1], reconstructed (autoencoder)."""
    loss, dataset = "mse", "Fashion-MNIST (grayscale), reconstruction"

    def __init__(self, size):
        self.size = size

    def sample(self, split, n, rng):
        g, _ = fmnist_gray(split, n, rng, self.size)
        return g, g


def mfcc(n, rng, coeffs=40, frames=49):
    """MFCC-like features [n, coeffs, frames]: random normal smoothed along time."""
    raw = rng.normal(0, 1, (n, coeffs, frames + 4)).astype(np.float32)
    k = np.array([1, 2, 3, 2, 1], np.float32) / 9 * 2
    x = np.stack([np.stack([np.convolve(r, k, mode="valid") for r in s]) for s in raw])
    scale = np.linspace(3.0, 0.5, coeffs, dtype=np.float32)[None, :, None]  # low coefficients vary most
    return (x * scale).astype(np.float32)


class KeywordSynth:
    """Synthetic keyword spotting: which of 12 fixed smooth MFCC-like templates (seed 77), each
    with a random gain (0.6-1.4) and time shift (+-4 frames), lies under MFCC-like noise of the
    same spectrum and 0.8 times its amplitude. layout "ct": [coeffs, frames]; "1tc": [1, frames, coeffs]."""
    loss, dataset = "ce", "synthetic keywords: 12 MFCC templates + noise"

    def __init__(self, coeffs, layout):
        self.coeffs, self.layout = coeffs, layout
        self.templates = mfcc(12, np.random.default_rng(77), coeffs=coeffs)

    def sample(self, split, n, rng):
        y = rng.integers(0, 12, n)
        shift = rng.integers(-4, 5, n)
        gain = rng.uniform(0.6, 1.4, (n, 1, 1)).astype(np.float32)
        t = np.stack([np.roll(self.templates[k], s, axis=1) for k, s in zip(y, shift)])
        x = (gain * t + 0.8 * mfcc(n, rng, coeffs=self.coeffs)).astype(np.float32)
        if self.layout == "1tc":
            x = x.transpose(0, 2, 1)[:, None].copy()
        return x, y


class LogMelSynth:
    """Log-mel-like frames [640] (5 frames of 128 bands) of a 'normal machine': a fixed per-band
    offset plus a random mix of 4 fixed components smooth along the bands (seed 78), plus a
    little noise; the autoencoder reconstructs them (MLPerf Tiny AD's training task)."""
    loss, dataset = "mse", "synthetic log-mel frames (4 components + noise), reconstruction"

    def __init__(self):
        rng = np.random.default_rng(78)
        smooth = lambda a: np.stack([np.convolve(r, np.ones(9) / 9, mode="same") for r in a])
        self.offset = (smooth(rng.normal(0, 3, (1, 128))) - 1).astype(np.float32)
        self.comps = smooth(rng.normal(0, 3, (4, 128))).astype(np.float32)

    def sample(self, split, n, rng):
        w = rng.normal(0, 1, (n, 5, 4)).astype(np.float32) * 0.3 + rng.normal(0, 1, (n, 1, 4)).astype(np.float32)
        x = self.offset + w @ self.comps + rng.normal(0, 0.1, (n, 5, 128)).astype(np.float32)
        x = x.reshape(n, 640).astype(np.float32)
        return x, x


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
        for m in self.modules():  # torchvision SqueezeNet's initialisation (PyTorch's default starts it dead)
            if isinstance(m, nn.Conv2d):
                if m is self.classifier[1]:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.constant_(m.bias, 0)

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


# ---------------------------------------------------------------- the zoo

# name, constructor, source, exporter, task (training data, calibration and held-out inputs),
# training steps, learning rate (Adam, one-cycle schedule), batch size
ZOO = [
    ("mobilenet_v2", lambda: mobilenet_v2(weights=None, width_mult=0.35, num_classes=10),
     "torchvision mobilenet_v2(width_mult=0.35, num_classes=10)", "torchscript", FashionClasses(64), 400, 3e-3, 32),
    ("mobilenet_v3_small", lambda: mobilenet_v3_small(weights=None, width_mult=0.5, num_classes=10),
     "torchvision mobilenet_v3_small(width_mult=0.5, num_classes=10)", "torchscript", FashionClasses(64), 400, 3e-3, 32),
    ("mnasnet", lambda: mnasnet.MNASNet(0.35, num_classes=10),
     "torchvision MNASNet(alpha=0.35, num_classes=10) (mnasnet0_5 is 3.7 MB)", "torchscript", FashionClasses(64), 800, 3e-3, 32),
    ("shufflenet_v2", lambda: shufflenet_v2_x0_5(weights=None, num_classes=10),
     "torchvision shufflenet_v2_x0_5(num_classes=10)", "torchscript", FashionClasses(64), 400, 3e-3, 32),
    ("squeezenet", SqueezeNetHalf,
     "SqueezeNet 1.1 layout, torchvision Fire modules, half the channels", "torchscript", FashionClasses(64), 800, 2e-3, 32),
    ("resnet_small", ResNetSmall,
     "ResNet-18 layout, torchvision BasicBlock [2,2,2,2], widths 8-64, 3x3 stem", "torchscript", FashionClasses(32), 400, 3e-3, 32),
    ("kws_conv1d", KwsConv1d,
     "keyword spotter: Conv1d + depthwise-separable Conv1d, mean over time, Linear", "torchscript",
     KeywordSynth(40, "ct"), 300, 3e-3, 64),
    ("mbconv_se", MBConvSE,
     "EfficientNet-style inverted residuals, squeeze-excite, SiLU", "dynamo", FashionClasses(32), 400, 3e-3, 64),
    ("unet_upsample", UNetUpsample,
     "encoder-decoder, nearest upsampling (Resize), skip Concat", "torchscript", FashionSegment(32), 300, 3e-3, 32),
    ("autoencoder_convt", AutoencoderConvT,
     "conv autoencoder, ConvTranspose2d stride 2", "torchscript", FashionReconstruct(32), 400, 3e-3, 64),
    ("cnn_mean_head", CnnMeanHead,
     "plain CNN, x.mean((2, 3)) head into Linear", "torchscript", FashionClasses(32), 400, 3e-3, 64),
    ("ds_cnn_rgb", DsCnnRgb,
     "depthwise-separable CNN on RGB, AdaptiveAvgPool, Linear", "dynamo", FashionClasses(32), 400, 3e-3, 64),
    ("kws_dscnn2d", DsCnnKws,
     "Hello Edge DS-CNN keyword spotter (2-D convs on MFCC, 1 channel)", "torchscript",
     KeywordSynth(10, "1tc"), 300, 3e-3, 64),
    ("ad_fc_autoencoder", FcAutoencoder,
     "MLPerf Tiny AD autoencoder layout (Linear-BN-ReLU), half width", "torchscript", LogMelSynth(), 600, 3e-3, 64),
]


def task_loss(task, out, target):
    if task.loss == "mse":
        return F.mse_loss(out, target)
    return F.cross_entropy(out, target)  # classes, or per pixel for "seg" ([N, C, H, W] vs [N, H, W])


def recalibrate_bn(model, task, rng, batches=16, batch=64):
    """BatchNorm running statistics of the final weights: cumulative average over 16 training
    batches in train mode (the one-cycle schedule's last steps barely move the weights, but the
    running averages lag them; this makes them exact)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad():
        for _ in range(batches if bns else 0):
            model(torch.from_numpy(task.sample("train", batch, rng)[0]))
    model.eval()


def evaluate(model, task, seed, n=1000):
    """Test-split score: 'accuracy %' (classes, or garment-mask pixels), or reconstruction MSE
    and its ratio to the targets' variance (1 - R^2)."""
    x, t = task.sample("test", n, np.random.default_rng(seed))
    with torch.no_grad():
        out = torch.cat([model(torch.from_numpy(x[k:k + 100])) for k in range(0, n, 100)])
    if task.loss == "mse":
        mse = ((out.numpy() - t) ** 2).mean()
        return f"test MSE {mse:.4f} ({100 * mse / t.var(axis=0).mean():.1f} % of the variance)"
    acc = 100 * (out.argmax(1).numpy() == t).mean()
    if task.loss == "seg":
        return f"test pixel accuracy {acc:.1f} % (garment pixels {100 * t.mean():.0f} %)"
    return f"test accuracy {acc:.1f} % (chance 1/{out.shape[1]})"


def train(model, task, steps, lr, batch, seed):
    """Adam with a one-cycle learning-rate schedule on training-split batches, then exact BN statistics."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    model.train()
    for step in range(steps):
        x, t = task.sample("train", batch, rng)
        loss = task_loss(task, model(torch.from_numpy(x)), torch.from_numpy(t))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    recalibrate_bn(model, task, rng)
    return loss.item()


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
    model.eval()
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


def read_training_rows():
    """name -> training row of an existing README (kept for the models not rebuilt)."""
    rows = {}
    try:
        lines = open(os.path.join(OUT, "README.md")).read().split("## Training", 1)[1].splitlines()
    except (OSError, IndexError):
        return rows
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in {z[0] for z in ZOO}:
            rows[cells[0]] = cells
    return rows


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    rows, training = [], read_training_rows()
    for i, (name, make, source, exporter, task, steps, lr, batch) in enumerate(ZOO):
        torch.manual_seed(100 + i)
        model = make()
        calib = task.sample("train", N_CALIB, np.random.default_rng(3000 + i))[0]
        held = task.sample("test", N_HELD_OUT, np.random.default_rng(4000 + i))[0]
        params = sum(p.numel() for p in model.parameters())
        macs = count_macs(model, torch.from_numpy(held[:1]))
        path = os.path.join(OUT, f"{name}.onnx")
        if not only or name in only:
            t0 = time.time()
            loss = train(model, task, steps, lr, batch, 5000 + i)
            score = evaluate(model, task, 6000 + i)
            training[name] = [name, task.dataset, f"{steps} x {batch}", f"{lr:g}", f"{loss:.3f}", score]
            print(f"{name:20s} trained {time.time() - t0:.0f} s: last batch loss {loss:.3f}, {score}", flush=True)
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
        f.write("Real PyTorch architectures at reduced width and resolution, briefly trained (Fashion-MNIST\n")
        f.write("or a synthetic task, fixed seeds; see Training below), exported as users export them.\n")
        f.write("Written by `tests/zoo/make_zoo.py` (which documents the data and the files); checked by\n")
        f.write("`tests/zoo.rs`; results in `docs/zoo.md`.\n")
        f.write(f"torch {torch.__version__.split('+')[0]}, torchvision {torchvision.__version__.split('+')[0]}, "
                f"onnxruntime {ort.__version__}. Inputs are NCHW float32 (batch 1).\n\n")
        f.write("| model | source | exporter | input | output | params | MACs | ONNX B | ONNX ops |\n")
        f.write("|---|---|---|---|---|---:|---:|---:|---|\n")
        for name, source, exporter, ishape, oshape, params, macs, size, ops in rows:
            opset = "dynamo, opset 18" if exporter == "dynamo" else "TorchScript, opset 13"
            f.write(f"| {name} | {source} | {opset} | {ishape} | {oshape} | {params:,} | {macs:,} | {size:,} | {' '.join(ops)} |\n")
        f.write(f"\nEach model: `NAME.onnx`, `NAME_calib.npy` ({N_CALIB} calibration inputs, training split), "
                f"`NAME_x.npy` ({N_HELD_OUT} held-out inputs, test split), `NAME_y.npy` (onnxruntime's float "
                f"outputs on them). All files: {total / 2**20:.1f} MiB.\n")
        f.write("\n## Training\n\n")
        f.write("Adam, one-cycle learning-rate schedule (peak below), steps x batch size, then BatchNorm\n")
        f.write("statistics re-measured on 16 training batches. Scores on 1000 test-split samples.\n\n")
        f.write("| model | data | steps x batch | peak lr | last batch loss | test score |\n")
        f.write("|---|---|---|---|---|---|\n")
        for z in ZOO:
            if z[0] in training:
                f.write("| " + " | ".join(training[z[0]]) + " |\n")
    print(f"total {total / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
