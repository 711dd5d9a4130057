"""Reference values for the baseline losses (tests/baselines.rs): DKD
(Zhao et al. 2022), RKD's distance and angle terms (Park et al. 2019) and
Subclass Distillation's auxiliary loss (Mueller, Kornblith, Hinton 2020),
written here in PyTorch from the papers' definitions, independently of the
crate, in float64. Writes reference.json: inputs, loss values and the
gradients with respect to the student's inputs.

    python tests/data/baselines/reference.py   # torch 2.9.0, numpy 2.4.6
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20261130)


def dkd(zs, zt, y, tau, ce, tckd_w, nckd_w):
    n, c = zs.shape
    gt = F.one_hot(y, c).to(zs.dtype)
    other = 1.0 - gt
    ps, pt = F.softmax(zs / tau, 1), F.softmax(zt / tau, 1)
    bs = torch.stack([(ps * gt).sum(1), (ps * other).sum(1)], 1)
    bt = torch.stack([(pt * gt).sum(1), (pt * other).sum(1)], 1)
    tckd = (bt * (bt.log() - bs.log())).sum() / n * tau**2
    # the non-target distributions: the target logit pushed to -inf
    lps_hat = F.log_softmax(zs / tau - 1e4 * gt, 1)
    lpt_hat = F.log_softmax(zt / tau - 1e4 * gt, 1)
    nckd = (lpt_hat.exp() * (lpt_hat - lps_hat) * other).sum() / n * tau**2
    return ce * F.cross_entropy(zs, y) + tckd_w * tckd + nckd_w * nckd


def pdist(e):
    sq = (e * e).sum(1)
    d = (sq[:, None] + sq[None, :] - 2 * e @ e.T).clamp(min=1e-12).sqrt()
    return d * (1 - torch.eye(len(e)))


def rkd_distance(s, t):
    n = len(s)
    ds, dt = pdist(s), pdist(t)
    ds = ds / (ds.sum() / (n * (n - 1)))
    dt = dt / (dt.sum() / (n * (n - 1)))
    return F.smooth_l1_loss(ds, dt)


def rkd_angle(s, t):
    def cos(e):
        diff = e[None, :, :] - e[:, None, :]  # diff[i, j] = e_j - e_i
        norm = diff.norm(dim=2, keepdim=True)
        # the crate's convention: pairs closer than 1e-6 have no direction
        unit = torch.where(norm > 1e-6, diff / norm.clamp(min=1e-6), torch.zeros_like(diff))
        return torch.bmm(unit, unit.transpose(1, 2))

    return F.smooth_l1_loss(cos(s), cos(t))


def aux(z, temperature):
    n, k = z.shape
    mean = z.mean(1, keepdim=True)
    var = ((z - mean) ** 2).mean(1, keepdim=True)
    v = (z - mean) / (var + 1e-9).sqrt() / np.sqrt(temperature * k)
    sims = v @ v.T
    return torch.logsumexp(sims, 1).mean() - 1.0 / temperature - np.log(n)


def value_and_grad(f, x, *rest):
    x = torch.tensor(x, requires_grad=True)
    loss = f(x, *rest)
    loss.backward()
    return float(loss.detach()), x.grad.numpy().ravel().tolist()


cases = {}
for name, (n, c, tau, w) in {
    "dkd_c3": (6, 3, 4.0, (1.0, 1.0, 8.0)),
    "dkd_c4_soft": (5, 4, 2.0, (0.5, 2.0, 0.7)),
    "dkd_c2": (6, 2, 4.0, (1.0, 1.0, 8.0)),
}.items():
    zs = rng.normal(size=(n, c)) * 2
    zt = rng.normal(size=(n, c)) * 3
    y = rng.integers(0, c, size=n)
    value, grad = value_and_grad(
        lambda x: dkd(x, torch.tensor(zt), torch.tensor(y), tau, *w), zs
    )
    cases[name] = dict(n=n, c=c, tau=tau, ce=w[0], tckd=w[1], nckd=w[2], student=zs.ravel().tolist(),
                       teacher=zt.ravel().tolist(), labels=y.tolist(), loss=value, grad=grad)

n, e, d = 6, 3, 5
s = rng.normal(size=(n, e))
t = rng.normal(size=(n, d)) * 4
# the distance term with coincident student rows (the clamp keeps its
# gradient finite); the angle term is not differentiable there
coincident = s.copy()
coincident[4] = coincident[3]
for name, f, x in [("rkd_distance", rkd_distance, coincident), ("rkd_angle", rkd_angle, s)]:
    value, grad = value_and_grad(lambda x: f(x, torch.tensor(t)), x)
    cases[name] = dict(n=n, e=e, d=d, student=x.ravel().tolist(), teacher=t.ravel().tolist(),
                       loss=value, grad=grad)

for name, (n, k, temperature) in {"aux_t1": (6, 6, 1.0), "aux_t05": (7, 8, 0.5)}.items():
    z = rng.normal(size=(n, k)) * 2
    value, grad = value_and_grad(lambda x: aux(x, temperature), z)
    cases[name] = dict(n=n, k=k, temperature=temperature, logits=z.ravel().tolist(), loss=value, grad=grad)

cases["versions"] = dict(torch=torch.__version__, numpy=np.__version__)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
with open(out, "w") as fh:
    json.dump(cases, fh, indent=1)
print("wrote", out)
