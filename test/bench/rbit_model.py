#!/usr/bin/python3
# test/bench/rbit_model.py: how well B-bit codes of rotated residuals rank
# neighbours on the synthetic mixture of ../shared/bench-targets.md, with no
# graph in the way.
#
#   apt-get install python3-numpy
#   python3 test/bench/rbit_model.py [ROWS] [DIMS]     (default 200000 768)
#
# The estimator is the one of src/quant/quant_rbit.c: residuals from the
# nearest of 256 k-means centroids (6 Lloyd rounds on 96 rows a centroid),
# rotated by a random orthogonal matrix; for B = 1 the code is the signs, for
# B > 1 the B-bit grid point (half-integers in [-(2^B-1)/2, (2^B-1)/2])
# whose direction is closest to the residual's over 48 scales (the extended
# RaBitQ of Gao et al., 2024, with a coarse scale search).  The estimate of
# <r, y> is ||r||^2 <g, y> / <g, r>.  For each query the best 10 * F rows by
# estimated L2 distance are re-ranked by exact distance; the line per B is
# recall@10 against the exact top 10 for each F.  A perfect search of the
# codes can do no better than this.
import sys
import time

import numpy as np

rng = np.random.default_rng(7)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
D = int(sys.argv[2]) if len(sys.argv) > 2 else 768
CENTRES = 256
QUERIES = 200
K = 256
FACTORS = [1, 2, 4, 8, 16, 32, 64]
CHUNK = 20000

centres = rng.standard_normal((CENTRES, D)).astype(np.float32)
weights = np.exp(rng.normal(0, 0.5, CENTRES))
weights /= weights.sum()
spread = 0.35 * rng.uniform(0.5, 1.5, CENTRES)


def draw(n):
    k = rng.choice(CENTRES, n, p=weights)
    noise = rng.standard_normal((n, D))
    return (centres[k] + spread[k, None] * noise).astype(np.float32)


X = draw(N)
Q = draw(QUERIES)
t0 = time.time()
xnorm = (X * X).sum(1)


def l2(q):
    return xnorm - 2 * X @ q + q @ q


truth = [set(np.argsort(l2(q))[:10]) for q in Q]
print("exact top 10: %.1f s" % (time.time() - t0), flush=True)

sub = X[np.linspace(0, N - 1, min(N, K * 96)).astype(int)]
cent = sub[np.linspace(0, len(sub) - 1, K).astype(int)].copy()


def nearest(A):
    d = (A * A).sum(1)[:, None] - 2 * A @ cent.T + (cent * cent).sum(1)[None, :]
    return d.argmin(1)


for _ in range(6):
    a = nearest(sub)
    for k in range(K):
        members = a == k
        if members.any():
            cent[k] = sub[members].mean(0)
assign = np.concatenate([nearest(X[i:i + CHUNK]) for i in range(0, N, CHUNK)])
print("k-means: %.1f s" % (time.time() - t0), flush=True)

P = np.linalg.qr(rng.standard_normal((D, D)))[0].astype(np.float32)
R = X - cent[assign]
Y = R @ P.T
sqnorm = (R * R).sum(1)
rotated_cent = cent @ P.T


def grid(Y, B):
    if B == 1:
        return np.sign(Y)
    half = (2 ** B - 1) / 2.0
    peak = np.maximum(np.abs(Y).max(1, keepdims=True), 1e-30)
    best = np.sign(Y) * 0.5
    bestcos = np.full(len(Y), -np.inf)
    for f in np.linspace(0.15, 1.2, 48):
        G = np.clip(np.floor(Y * ((half + 0.5) * f / peak)) + 0.5, -half, half)
        cos = (G * Y).sum(1) / np.sqrt((G * G).sum(1))
        better = cos > bestcos
        best[better] = G[better]
        bestcos[better] = cos[better]
    return best


for B in [1, 2, 3, 4]:
    G = np.concatenate([grid(Y[i:i + CHUNK], B)
                        for i in range(0, N, CHUNK)]).astype(np.float32)
    gdotr = (G * Y).sum(1)
    factor = np.where(gdotr > 0, sqnorm / np.where(gdotr > 0, gdotr, 1), 0)
    gdotc = (G * rotated_cent[assign]).sum(1)
    found = {F: 0 for F in FACTORS}
    for qi, q in enumerate(Q):
        cterm = ((q[None, :] - cent) ** 2).sum(1)
        est = cterm[assign] + sqnorm - 2 * factor * (G @ (P @ q) - gdotc)
        order = np.argsort(est)
        exact = l2(q)
        for F in FACTORS:
            cand = order[:10 * F]
            top = cand[np.argsort(exact[cand])[:10]]
            found[F] += len(set(top) & truth[qi])
    print("bits %d: " % B + " ".join("F%d %.3f" % (F, found[F] / (10.0 * QUERIES))
                                     for F in FACTORS), flush=True)
