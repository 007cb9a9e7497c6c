"""Hybrid accuracy of the fmnist-hybrid example at fixed query rates: the learned
router against the entropy and max-softmax baselines and the oracle.

    cd examples/fmnist-hybrid && python3 evaluate.py            (checked-in 1,500 val / 1,500 test)
    python3 evaluate.py --full                                  (all 5,000 val / 10,000 test images,
                                                                 read from /usr/share/datasets)
    python3 evaluate.py --scores dev_test.npy --val-scores dev_val.npy   (the firmware's router scores)

A query rate of k % means: the threshold t is chosen on the validation images so
that k % of them have a score >= t; on the test images, every input with a score
>= t goes to the cloud (the cloud's answer counts), the others keep the edge's
answer. The realised test query rate is printed next to each accuracy. The
oracle sends the inputs where the edge is wrong and the cloud right (z = 1)
first, exactly k % of the test inputs (it needs the labels; it is the upper
bound). Needs numpy and onnxruntime only.

Device scores (--scores, --val-scores): a .npy array of N floats (or [N, 1]), or
a .json file holding a list of floats, a dict with a "scores" or "router_score"
list, or a list of records with a "router_score" (or "score") field, one per
image, in the order of the concatenated shards (test_x.npy, test2_x.npy,
test3_x.npy; with --full, the order of full_split()). --edge-labels optionally
takes the device's edge predictions in the same formats ("label" field); by
default the edge and cloud answers are onnxruntime's on the float models.
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/usr/share/datasets/fashion-mnist"
RATES = (0.10, 0.20, 0.30, 0.40, 0.50)
SEED = 0
N_VAL = 5000  # validation images held out of the 60,000 training images (the first N_VAL of the permutation)
N_KEEP = 1500  # validation and test images checked in (500 per file)
SHARD = 500


# ---------------------------------------------------------------- data

def read_idx(path):
    """An idx file (gzip): magic 0x0000 0x08 ndim, ndim big-endian uint32 sizes, uint8 data."""
    b = gzip.open(path).read()
    assert b[0] == 0 and b[1] == 0 and b[2] == 0x08, path
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


def load_fmnist(split):
    """split 'train' or 't10k' -> float32 [N,1,28,28] in [0, 1] (pixel / 255), int64 labels [N]."""
    x = read_idx(os.path.join(DATA, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA, f"{split}-labels-idx1-ubyte.gz"))
    return (x.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28), y.astype(np.int64)


def splits():
    """The fixed split of train.py: index arrays into the training set (val, router, cloud) and
    the order of the test set. val = first N_VAL of one permutation of the 60,000 training images,
    router = the next 10,000, cloud = the remaining 45,000; the test images are permuted once too
    (the checked-in test files are its first N_KEEP)."""
    perm = np.random.default_rng(SEED).permutation(60000)
    val, router, cloud = np.split(perm, [N_VAL, N_VAL + 10000])
    test = np.random.default_rng(SEED + 1).permutation(10000)
    return val, router, cloud, test


def full_split(name):
    """All N_VAL validation images or all 10,000 test images, in the order of splits()."""
    val, _, _, test = splits()
    if name == "val":
        x, y = load_fmnist("train")
        return x[val], y[val]
    x, y = load_fmnist("t10k")
    return x[test], y[test]


def shard_names(name):
    """val -> val_x.npy, val2_x.npy, val3_x.npy (500 images each; the first also for hybridc)."""
    return [f"{name}{'' if i == 0 else i + 1}" for i in range(N_KEEP // SHARD)]


def checked_in(name, folder=HERE):
    xs, ys = [], []
    for s in shard_names(name):
        xs.append(np.load(os.path.join(folder, f"{s}_x.npy")))
        ys.append(np.load(os.path.join(folder, f"{s}_y.npy")))
    return np.concatenate(xs), np.concatenate(ys)


# ---------------------------------------------------------------- models (onnxruntime)

def run_models(folder, x):
    """Float inference of the three exported graphs, one image at a time (batch 1 graphs).
    Returns edge logits [N,10], edge feat [N,F], router score [N], cloud logits [N,10]."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = {k: ort.InferenceSession(os.path.join(folder, f"{k}.onnx"), so, providers=["CPUExecutionProvider"])
            for k in ("edge", "router", "cloud")}
    el, ef, sc, cl = [], [], [], []
    for i in range(len(x)):
        xi = x[i: i + 1]
        logits, feat = sess["edge"].run(["logits", "feat"], {"x": xi})
        (s,) = sess["router"].run(["score"], {"logits": logits, "feat": feat})
        (c,) = sess["cloud"].run(["logits"], {"x": xi})
        el.append(logits[0]); ef.append(feat[0]); sc.append(s[0, 0]); cl.append(c[0])
    return np.array(el), np.array(ef), np.array(sc, np.float64), np.array(cl)


def np_softmax(z):
    z = z.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def baseline_scores(edge_logits):
    """Higher = more likely to be sent: softmax entropy, and 1 - max softmax probability."""
    p = np_softmax(edge_logits)
    return {"entropy": -(p * np.log(p + 1e-12)).sum(1), "max_softmax": 1 - p.max(1)}


# ---------------------------------------------------------------- query rates

def threshold_for_rate(val_score, q):
    """The score t with round(q * N) validation inputs at or above it (the k-th largest)."""
    k = int(round(q * len(val_score)))
    if k == 0:
        return np.inf
    return np.sort(val_score)[::-1][k - 1]


def hybrid(score, t, edge_ok, cloud_ok):
    sent = score >= t
    return float(np.where(sent, cloud_ok, edge_ok).mean()), float(sent.mean())


def oracle_at_rate(edge_ok, cloud_ok, q):
    """Send the z = 1 inputs (edge wrong, cloud right) first, then others (which cannot help)."""
    n = len(edge_ok)
    k = int(round(q * n))
    z = (~edge_ok) & cloud_ok
    gain = min(k, int(z.sum()))
    return float((edge_ok.sum() + gain) / n), k / n


def table(val, test, rates=RATES):
    """val, test: dicts with 'scores' {method: [N]}, 'edge_ok', 'cloud_ok'. Returns rows of
    {method: (acc, realised rate)} per rate."""
    rows = {}
    for q in rates:
        row = {}
        for m in val["scores"]:
            t = threshold_for_rate(val["scores"][m], q)
            row[m] = hybrid(test["scores"][m], t, test["edge_ok"], test["cloud_ok"])
        row["oracle"] = oracle_at_rate(test["edge_ok"], test["cloud_ok"], q)
        rows[f"{q:.2f}"] = row
    return rows


def markdown(rows, test, title=""):
    n = len(test["edge_ok"])
    z = (~test["edge_ok"]) & test["cloud_ok"]
    out = []
    if title:
        out.append(title)
        out.append("")
    out.append(f"edge alone {100 * test['edge_ok'].mean():.2f} %, cloud alone {100 * test['cloud_ok'].mean():.2f} %, "
               f"oracle (z = 1: edge wrong, cloud right) {100 * z.mean():.2f} % of the {n} test inputs, "
               f"edge-or-cloud {100 * (test['edge_ok'] | test['cloud_ok']).mean():.2f} %")
    out.append("")
    out.append("| query rate (val) | router | entropy | max-softmax | oracle | router - best baseline |")
    out.append("|---:|---:|---:|---:|---:|---:|")
    for q, row in rows.items():
        cell = lambda m: f"{100 * row[m][0]:.2f} ({100 * row[m][1]:.1f} %)"
        d = 100 * (row["router"][0] - max(row["entropy"][0], row["max_softmax"][0]))
        out.append(f"| {100 * float(q):.0f} % | {cell('router')} | {cell('entropy')} | {cell('max_softmax')} | "
                   f"{100 * row['oracle'][0]:.2f} | {d:+.2f} |")
    out.append("")
    out.append("Hybrid top-1 accuracy in %, the realised test query rate in parentheses.")
    return "\n".join(out)


# ---------------------------------------------------------------- device files

def load_values(path, keys=("scores", "router_score", "score")):
    if path.endswith(".npy"):
        return np.load(path).reshape(-1)
    with open(path) as fh:
        d = json.load(fh)
    if isinstance(d, dict):
        for k in keys:
            if k in d:
                d = d[k]
                break
        else:
            raise SystemExit(f"{path}: none of the keys {keys}")
    if d and isinstance(d[0], dict):
        for k in keys:
            if k in d[0]:
                return np.array([r[k] for r in d])
        raise SystemExit(f"{path}: records have none of the fields {keys}")
    return np.array(d).reshape(-1)


def evaluate(folder=HERE, full=False, scores=None, val_scores=None, edge_labels=None, quiet=False):
    sets = {}
    for name in ("val", "test"):
        x, y = full_split(name) if full else checked_in(name, folder)
        el, _, sc, cl = run_models(folder, x)
        edge_pred = el.argmax(1)
        if name == "test" and edge_labels is not None:
            edge_pred = load_values(edge_labels, ("labels", "label", "edge_label")).astype(np.int64)
        dev = scores if name == "test" else val_scores
        if dev is not None:
            sc = load_values(dev).astype(np.float64)
        assert len(sc) == len(y) == len(edge_pred), (name, len(sc), len(y), len(edge_pred))
        sets[name] = {"scores": {"router": sc, **baseline_scores(el)},
                      "edge_ok": edge_pred == y, "cloud_ok": cl.argmax(1) == y}
    if scores is not None and val_scores is None and not quiet:
        print("note: device test scores with float validation scores: the thresholds come from the "
              "float router, so the realised test rates may drift (give --val-scores)", file=sys.stderr)
    rows = table(sets["val"], sets["test"])
    return rows, sets


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=HERE, help="folder with the .onnx and .npy files")
    ap.add_argument("--full", action="store_true",
                    help="all 5,000 validation / 10,000 test images from /usr/share/datasets instead of the checked-in 1,500 / 1,500")
    ap.add_argument("--scores", help="router scores for the test images (.npy or .json), e.g. from the firmware")
    ap.add_argument("--val-scores", help="router scores for the validation images, for the thresholds")
    ap.add_argument("--edge-labels", help="edge predictions for the test images (.npy or .json)")
    ap.add_argument("--json", help="also write the table as JSON here")
    a = ap.parse_args()
    rows, sets = evaluate(a.dir, a.full, a.scores, a.val_scores, a.edge_labels)
    nv, nt = len(sets["val"]["edge_ok"]), len(sets["test"]["edge_ok"])
    src = "device" if a.scores else "onnxruntime float"
    print(markdown(rows, sets["test"], f"router scores: {src}; thresholds from {nv} validation images, "
                                        f"applied to {nt} test images"))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"n_val": nv, "n_test": nt,
                       "edge_acc": float(sets["test"]["edge_ok"].mean()),
                       "cloud_acc": float(sets["test"]["cloud_ok"].mean()),
                       "rates": {q: {m: {"acc": v[0], "query_rate": v[1]} for m, v in row.items()}
                                 for q, row in rows.items()}}, fh, indent=1)
            fh.write("\n")


if __name__ == "__main__":
    sys.exit(main())
