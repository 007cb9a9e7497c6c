"""Trains hybridc's Fashion-MNIST hybrid example: a weak edge CNN for a Cortex-M4
(two outputs, logits and penultimate features), a cloud CNN, and a router trained
as in "Efficient Edge Inference by Selective Query" (ICLR 2023): proxy labels
(edge wrong and cloud right), a coverage penalty, and the edge and router trained
in alternation. Exports them to ONNX with the data files hybridc's commands use.

    cd examples/fmnist-hybrid && nice -n 10 python3 train.py     (CPU, one thread, ~25 minutes)

Needs torch, onnx, onnxruntime and numpy, and Debian's dataset-fashion-mnist
package (/usr/share/datasets/fashion-mnist, read here; nothing is downloaded).
See README.md for the models, the losses and the results.
"""
import argparse
import hashlib
import json
import os
import sys
import time
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate as ev  # noqa: E402  (data split, query-rate table)

warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")

SEED = ev.SEED
N_CALIB = 200
CLOUD_EPOCHS = 10
CLOUD_FINETUNE_EPOCHS = 2
EDGE_EPOCHS = 6
ROUTER_OPS = {
    "Softmax", "TopK", "Log", "ReduceSum", "Sub", "Concat", "Gemm", "MatMul", "Add", "Mul", "Neg",
    "Relu", "Sigmoid", "Slice", "Gather", "Reshape", "Flatten", "Unsqueeze", "Squeeze", "Constant",
}
CNN_OPS = {"Conv", "BatchNormalization", "Relu", "MaxPool", "Flatten", "Reshape", "Gemm", "Add",
           "GlobalAveragePool", "ReduceMean"}


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------- models

class Edge(nn.Module):
    """Conv 3x3 (1->c1)-BN-ReLU-MaxPool 2, Conv 3x3 (c1->c2)-BN-ReLU-MaxPool 2, Flatten,
    Linear (c2*7*7 -> F), ReLU = feat, Linear (F -> 10) = logits. Deliberately small."""

    def __init__(self, c1=4, c2=8, feat=32):
        super().__init__()
        self.f = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc1 = nn.Linear(c2 * 7 * 7, feat)
        self.fc2 = nn.Linear(feat, 10)
        self.n_feat = feat

    def forward(self, x):
        feat = torch.relu(self.fc1(torch.flatten(self.f(x), 1)))
        return self.fc2(feat), feat


class Cloud(nn.Module):
    """Three Conv-BN-ReLU-MaxPool blocks (32-64-128) + a 256-unit hidden layer."""

    def __init__(self):
        super().__init__()
        block = lambda i, o: [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]
        self.f = nn.Sequential(*block(1, 32), *block(32, 64), *block(64, 128))
        self.fc = nn.Sequential(nn.Linear(128 * 3 * 3, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 10))

    def forward(self, x):
        return self.fc(torch.flatten(self.f(x), 1))


class Router(nn.Module):
    """(edge logits, edge feat) -> [softmax p (10), entropy H, top1, top1-top2, top2-top3,
    top1-top3] (15) concatenated with ReLU(Linear(feat -> proj)) -> Linear -> ReLU -> Linear
    -> Sigmoid: the probability that the input should go to the cloud."""

    N_SOFTMAX_FEATURES = 15

    def __init__(self, n_feat, proj=8, hidden=24):
        super().__init__()
        self.proj = nn.Linear(n_feat, proj)
        self.fc1 = nn.Linear(self.N_SOFTMAX_FEATURES + proj, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    @staticmethod
    def features(logits):
        p = torch.softmax(logits, dim=-1)                         # Softmax
        h = -(p * torch.log(p + 1e-6)).sum(dim=-1, keepdim=True)  # Add, Log, Mul, ReduceSum, Neg
        top = torch.topk(p, 3, dim=-1).values                     # TopK (sorted)
        t1, t2, t3 = top[:, 0:1], top[:, 1:2], top[:, 2:3]        # Slice
        return torch.cat([p, h, t1, t1 - t2, t2 - t3, t1 - t3], dim=-1)  # Sub, Concat

    def forward(self, logits, feat):
        z = torch.cat([self.features(logits), torch.relu(self.proj(feat))], dim=-1)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def macs(model, x):
    """Multiply-accumulates of the Conv and Linear layers for one input."""
    total = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            total.append(out.numel() // out.shape[0] * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1])
        elif isinstance(mod, nn.Linear):
            total.append(mod.in_features * mod.out_features)
    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()(*x)
    for h in hs:
        h.remove()
    return int(sum(total))


def onnx_weight_bytes(path):
    """Bytes of the exported (BN-folded) weights once quantised: int8 for the Conv/Gemm
    weight tensors, int32 for their biases."""
    m = onnx.load(path)
    init = {t.name: t for t in m.graph.initializer}
    w = b = 0
    for node in m.graph.node:
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            for j, name in enumerate(node.input[1:], 1):
                if name in init:
                    n = int(np.prod(init[name].dims))
                    if j == 1:
                        w += n
                    else:
                        b += 4 * n
    return w, b


# ---------------------------------------------------------------- training

def augment(x, gen, px=2.0, flip=True):
    """Per-image random horizontal flip and shift up to px pixels (zero fill)."""
    n = len(x)
    u = torch.rand(n, 3, generator=gen)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.where(u[:, 0] < 0.5, -1.0, 1.0) if flip else 1.0
    theta[:, 1, 1] = 1.0
    theta[:, :, 2] = (u[:, 1:] * 2 - 1) * px / 14
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def batches(n, gen, bs=64):
    return torch.randperm(n, generator=gen).split(bs)


def train_cloud(xt, yt, gen, epochs):
    model = Cloud()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(xt) + 63) // 64))
    for e in range(epochs):
        model.train()
        for i in batches(len(xt), gen):
            opt.zero_grad()
            F.cross_entropy(model(augment(xt[i], gen)), yt[i]).backward()
            opt.step()
            sched.step()
        log(f"  cloud epoch {e + 1}/{epochs}")
    return model.eval()


def finetune_cloud(model, xt, yt, gen, epochs, lr=5e-4):
    """Cross-entropy on the plain (not augmented) training images, cosine-decayed Adam."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(xt) + 63) // 64))
    for e in range(epochs):
        model.train()
        for i in batches(len(xt), gen):
            opt.zero_grad()
            F.cross_entropy(model(xt[i]), yt[i]).backward()
            opt.step()
            sched.step()
        log(f"  cloud fine-tuning epoch {e + 1}/{epochs}")
    return model.eval()


def train_edge(model, xt, yt, gen, epochs, lr, router=None, floor=0.2):
    """Cross-entropy on augmented training images, cosine-decayed Adam. With a router, each
    image's loss is weighted by floor + (1 - router score), the score detached: the edge
    concentrates on the inputs the router keeps on the device."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(xt) + 63) // 64))
    for _ in range(epochs):
        model.train()
        for i in batches(len(xt), gen):
            opt.zero_grad()
            logits, feat = model(augment(xt[i], gen))
            ce = F.cross_entropy(logits, yt[i], reduction="none")
            if router is None:
                loss = ce.mean()
            else:
                with torch.no_grad():
                    w = floor + 1 - router(logits, feat).squeeze(1)
                loss = (w * ce).sum() / w.sum()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def router_loss(score, target, pos_weight, budget, lam):
    """Weighted BCE against the proxy target z + coverage penalty keeping the mean score
    (the expected fraction sent) near the budget."""
    s = score.squeeze(1).clamp(1e-6, 1 - 1e-6)
    bce = -(pos_weight * target * torch.log(s) + (1 - target) * torch.log(1 - s)).mean()
    return bce + lam * (s.mean() - budget) ** 2


def train_router(router, logits, feat, target, gen, epochs, lr, budget, lam):
    opt = torch.optim.Adam(router.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(target) + 255) // 256))
    pos = target.mean().clamp_min(1e-3)
    pos_weight = ((1 - pos) / pos).sqrt()  # partial re-balancing of the rare positives
    for _ in range(epochs):
        router.train()
        for i in batches(len(target), gen, bs=256):
            opt.zero_grad()
            router_loss(router(logits[i], feat[i]), target[i], pos_weight, budget, lam).backward()
            opt.step()
            sched.step()
    return router.eval()


@torch.no_grad()
def predict(model, *xs, bs=1000):
    model.eval()
    outs = [model(*(x[i: i + bs] for x in xs)) for i in range(0, len(xs[0]), bs)]
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(o) for o in zip(*outs))
    return torch.cat(outs)


def torch_sets(edge, router, cloud_logits, xs, ys):
    """The inputs of ev.table() from the PyTorch models (for the log during training)."""
    logits, feat = predict(edge, xs)
    sc = predict(router, logits, feat).squeeze(1).double().numpy()
    el = logits.numpy()
    return {"scores": {"router": sc, **ev.baseline_scores(el)},
            "edge_ok": el.argmax(1) == ys.numpy(), "cloud_ok": cloud_logits.argmax(1).numpy() == ys.numpy()}


def log_table(edge, router, cl_v, cl_t, xv, yv, xe, ye, tag):
    sv, st = torch_sets(edge, router, cl_v, xv, yv), torch_sets(edge, router, cl_t, xe, ye)
    rows = ev.table(sv, st)
    log(f"{tag}: edge val {sv['edge_ok'].mean():.4f} test {st['edge_ok'].mean():.4f}; test acc at val-chosen rate "
        "(router / entropy / max-softmax / oracle):")
    for q, r in rows.items():
        log(f"    {q}: {r['router'][0]:.4f} / {r['entropy'][0]:.4f} / {r['max_softmax'][0]:.4f} / {r['oracle'][0]:.4f}"
            f"  ({r['router'][0] - max(r['entropy'][0], r['max_softmax'][0]):+.4f})")
    return rows


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="output directory")
    ap.add_argument("--cloud-cache", help="load/save the trained cloud's state here (same seed: same cloud)")
    ap.add_argument("--budget", type=float, default=0.25, help="router coverage target (mean score)")
    ap.add_argument("--lam", type=float, default=10.0, help="coverage penalty weight")
    ap.add_argument("--rounds", type=int, default=3, help="router phases (with rounds-1 edge phases between)")
    ap.add_argument("--hidden", type=int, default=24, help="router hidden units")
    ap.add_argument("--proj", type=int, default=8, help="router projection of feat")
    ap.add_argument("--edge", default="4,8,32", help="edge widths c1,c2,F")
    ap.add_argument("--edge-epochs", type=int, default=EDGE_EPOCHS)
    ap.add_argument("--floor", type=float, default=0.2, help="edge loss weight floor + (1 - r(x))")
    ap.add_argument("--no-export", action="store_true", help="train and log only (recipe experiments)")
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    path = lambda f: os.path.join(out, f)

    t0 = time.time()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(SEED)

    # Data: 60,000 training images -> 5,000 val / 10,000 router / 45,000 cloud+edge (ev.splits()).
    X, Y = ev.load_fmnist("train")
    Xte, Yte = ev.load_fmnist("t10k")
    va, ro, tr, te = ev.splits()
    xt, yt = torch.from_numpy(X[tr]), torch.from_numpy(Y[tr])
    xv, yv = torch.from_numpy(X[va]), torch.from_numpy(Y[va])
    xe, ye = torch.from_numpy(Xte[te]), torch.from_numpy(Yte[te])
    log(f"data: {len(tr)} train (cloud, edge) / {len(ro)} router / {len(va)} val / {len(te)} test")

    # Cloud: trained once on the 45,000 images, fixed afterwards.
    if args.cloud_cache and os.path.exists(args.cloud_cache):
        cloud = Cloud()
        cloud.load_state_dict(torch.load(args.cloud_cache))
        cloud.eval()
        gen.set_state(torch.load(args.cloud_cache + ".gen"))
        log("cloud: loaded from the cache")
    else:
        cloud = train_cloud(xt, yt, gen, epochs=CLOUD_EPOCHS)
        if args.cloud_cache:
            torch.save(cloud.state_dict(), args.cloud_cache)
            torch.save(gen.get_state(), args.cloud_cache + ".gen")
    # Reseed the global generator (weight init, Dropout) so that what follows does not depend on
    # whether the cloud was trained here or loaded from --cloud-cache.
    torch.manual_seed(SEED + 1)
    # Then a short fine-tuning without augmentation (the augmented stage under-fits the
    # 45,000 images: +0.x points on validation).
    cloud = finetune_cloud(cloud, xt, yt, gen, epochs=CLOUD_FINETUNE_EPOCHS)
    cl_v, cl_t = predict(cloud, xv), predict(cloud, xe)
    log(f"cloud: {n_params(cloud)} parameters, val {(cl_v.argmax(1) == yv).float().mean():.4f} "
        f"test {(cl_t.argmax(1) == ye).float().mean():.4f} ({time.time() - t0:.0f} s)")

    # The router's training set: the 10,000 router images (seen by neither CNN, so the cloud's
    # and the edge's mistakes on them are like their mistakes on new inputs) and two augmented
    # copies of each, fixed once.
    x_ro = torch.from_numpy(X[ro])
    xr = torch.cat([x_ro, augment(x_ro, gen), augment(x_ro, gen)])
    yr = torch.from_numpy(Y[ro]).repeat(3)
    cloud_ok_r = (predict(cloud, xr).argmax(1) == yr).float()
    log(f"router set: {len(xr)} images, cloud right on {cloud_ok_r.mean():.4f}")

    # Edge: plain cross-entropy pre-training.
    c1, c2, nf = (int(v) for v in args.edge.split(","))
    edge = Edge(c1, c2, nf)
    edge = train_edge(edge, xt, yt, gen, epochs=args.edge_epochs, lr=3e-3)
    log(f"edge: {n_params(edge)} parameters, pre-trained ({time.time() - t0:.0f} s)")

    # Alternation: the router on the current edge's proxy labels z, then the edge re-weighted
    # towards the inputs the router keeps on the device.
    router = Router(nf, proj=args.proj, hidden=args.hidden)
    for r in range(args.rounds):
        logits, feat = predict(edge, xr)
        edge_ok = (logits.argmax(1) == yr).float()
        target = (1 - edge_ok) * cloud_ok_r  # z = 1: edge wrong and cloud right
        router = train_router(router, logits, feat, target, gen, epochs=30 if r == 0 else 15,
                              lr=3e-3 if r == 0 else 1e-3, budget=args.budget, lam=args.lam)
        score = predict(router, logits, feat).squeeze(1)
        log(f"round {r}: edge acc on the router set {edge_ok.mean():.4f}, z positives {target.mean():.4f}, "
            f"router mean score {score.mean():.3f}, AUC {ev_auc(score.numpy(), target.numpy()):.3f} "
            f"({time.time() - t0:.0f} s)")
        rows = log_table(edge, router, cl_v, cl_t, xv, yv, xe, ye, f"round {r}")
        if r < args.rounds - 1:
            edge = train_edge(edge, xt, yt, gen, epochs=2, lr=1e-3, router=router, floor=args.floor)
    log(f"trained ({time.time() - t0:.0f} s)")
    if args.no_export:
        return

    # Export (TorchScript exporter, opset 13, BN folded in eval mode, weights embedded).
    dummy_img = xv[:1]
    torch.onnx.export(edge.eval(), (dummy_img,), path("edge.onnx"), dynamo=False, opset_version=13,
                      input_names=["x"], output_names=["logits", "feat"], do_constant_folding=True)
    torch.onnx.export(cloud.eval(), (dummy_img,), path("cloud.onnx"), dynamo=False, opset_version=13,
                      input_names=["x"], output_names=["logits"], do_constant_folding=True)
    dl, df = predict(edge, dummy_img)
    torch.onnx.export(router.eval(), (dl, df), path("router.onnx"), dynamo=False, opset_version=13,
                      input_names=["logits", "feat"], output_names=["score"], do_constant_folding=True)

    # Data files: float32 NCHW images in [0, 1], int64 labels, 500 images per file.
    for name, xs, ys in [("val", X[va], Y[va]), ("test", Xte[te], Yte[te])]:
        for j, s in enumerate(ev.shard_names(name)):
            np.save(path(f"{s}_x.npy"), xs[j * ev.SHARD: (j + 1) * ev.SHARD])
            np.save(path(f"{s}_y.npy"), ys[j * ev.SHARD: (j + 1) * ev.SHARD])
    np.save(path("calib.npy"), X[tr[:N_CALIB]])

    # Checks: onnx.checker, no external data, allowed ops, I/O names and shapes, file sizes.
    ops = {}
    dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]
    io_spec = {"edge": (CNN_OPS, [("x", [1, 1, 28, 28])], [("logits", [1, 10]), ("feat", [1, nf])]),
               "cloud": (CNN_OPS, [("x", [1, 1, 28, 28])], [("logits", [1, 10])]),
               "router": (ROUTER_OPS, [("logits", [1, 10]), ("feat", [1, nf])], [("score", [1, 1])])}
    for name, (allowed, ins, outs) in io_spec.items():
        m = onnx.load(path(f"{name}.onnx"))
        onnx.checker.check_model(m, full_check=True)
        assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer), name
        used = sorted({n.op_type for n in m.graph.node})
        assert set(used) <= allowed, f"{name} uses {set(used) - allowed}"
        assert [(v.name, dims(v)) for v in m.graph.input] == ins, name
        assert [(v.name, dims(v)) for v in m.graph.output] == outs, name
        ops[name] = used
    for f in sorted(os.listdir(out)):
        if f.endswith((".onnx", ".npy")):
            assert os.path.getsize(path(f)) < 2 * 2**20, f

    # Model sizes.
    sizes = {}
    for name, model, inp in [("edge", edge, (dummy_img,)), ("cloud", cloud, (dummy_img,)), ("router", router, (dl, df))]:
        wb, bb = onnx_weight_bytes(path(f"{name}.onnx"))
        sizes[name] = {"params": n_params(model), "macs": macs(model, inp), "int8_weight_bytes": wb,
                       "int32_bias_bytes": bb}
    assert sizes["edge"]["int8_weight_bytes"] + sizes["edge"]["int32_bias_bytes"] <= 64 * 1024
    assert sizes["edge"]["macs"] <= 1_200_000

    # Evaluation with onnxruntime on the exported graphs: the checked-in 1,500 / 1,500 and the
    # full 5,000 val / 10,000 test. The router graph must agree with the PyTorch router.
    res = {"split": {"train": len(tr), "router": len(ro), "val": len(va), "test": len(te),
                     "checked_in_val": ev.N_KEEP, "checked_in_test": ev.N_KEEP, "calib": N_CALIB, "seed": SEED},
           "recipe": vars(args) | {"out": None, "cloud_cache": None}, "models": sizes, "ops": ops}
    for key, full in (("checked_in", False), ("full", True)):
        rows, sets = ev.evaluate(out, full=full)
        res[key] = {"n_test": len(sets["test"]["edge_ok"]),
                    "edge_acc": float(sets["test"]["edge_ok"].mean()),
                    "cloud_acc": float(sets["test"]["cloud_ok"].mean()),
                    "val_edge_acc": float(sets["val"]["edge_ok"].mean()),
                    "val_cloud_acc": float(sets["val"]["cloud_ok"].mean()),
                    "rates": {q: {m: {"acc": v[0], "query_rate": v[1]} for m, v in row.items()}
                              for q, row in rows.items()}}
        log("\n" + ev.markdown(rows, sets["test"], f"onnxruntime, {key}:"))
        if full:
            xs = ev.full_split("test")[0][:200]
            el, ef, sc, _ = ev.run_models(out, xs)
            ref = predict(router, torch.from_numpy(el), torch.from_numpy(ef)).squeeze(1).numpy()
            assert np.allclose(sc, ref, atol=1e-5), np.abs(sc - ref).max()
            tl, tf = predict(edge, torch.from_numpy(xs))
            assert np.allclose(el, tl.numpy(), atol=1e-4) and np.allclose(ef, tf.numpy(), atol=1e-4)
    files = {}
    for f in sorted(os.listdir(out)):
        if f.endswith((".onnx", ".npy")):
            files[f] = {"bytes": os.path.getsize(path(f)),
                        "sha256": hashlib.sha256(open(path(f), "rb").read()).hexdigest()}
    res["files"] = files
    res["train_seconds"] = round(time.time() - t0)
    with open(path("summary.json"), "w") as fh:
        json.dump(res, fh, indent=1)
        fh.write("\n")
    for k, v in sizes.items():
        log(f"{k}: {v}")
    for k, v in ops.items():
        log(f"{k} ops: {' '.join(v)}")
    log(f"done in {time.time() - t0:.0f} s")


def ev_auc(score, target):
    """Probability that a random positive outranks a random negative (ties count half)."""
    pos, neg = score[target == 1], score[target == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="stable")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    # average ranks over ties
    allv = np.concatenate([pos, neg])
    _, inv, cnt = np.unique(allv, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / cnt)[inv]
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


if __name__ == "__main__":
    sys.exit(main())
