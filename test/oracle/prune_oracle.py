"""Oracle for data-aware pruning (issue 15): Wanda's mask and SparseGPT's pruned weight, in numpy.

Usage: prune_oracle.py K N ROWS SEED SPARSITY|N:M
Makes a float32 weight W [K, N] (ONNX MatMul's B) and activations X [ROWS, K] whose input channels have very
different scales (as LLM outlier features), then prints JSON: W and X (row-major), Wanda's keep-mask per
output unit (score |W[k, n]| * ||X[:, k]||_2, the lowest round(s*K) of each column n pruned, equal scores
pruning the lower k first; N:M: the N highest of every M along k kept), and SparseGPT's pruned W
(Frantar & Alistarh 2023, Algorithm 1, block 128, the mask chosen per output unit in each block by
w^2 / U_kk^2, U = the upper Cholesky factor of (X^T X + 0.01 mean(diag) I)^-1).
"""
import json
import sys

import numpy as np

K, N, ROWS, SEED = (int(a) for a in sys.argv[1:5])
RULE = sys.argv[5]
BLOCK = 128

rng = np.random.RandomState(SEED)
W = rng.standard_normal((K, N)).astype(np.float32)
scales = np.exp(rng.standard_normal(K) * 1.2).astype(np.float32)
mix = rng.standard_normal((K, K)).astype(np.float32) * 0.3 + np.eye(K, dtype=np.float32)
X = ((rng.standard_normal((ROWS, K)).astype(np.float32) @ mix) * scales).astype(np.float32)

if ':' in RULE:
    NM = tuple(int(v) for v in RULE.split(':'))
    SPARSITY = 1 - NM[0] / NM[1]
else:
    NM = None
    SPARSITY = float(RULE)


def round_half_away(x):
    return int(np.floor(x + 0.5))


def lowest(scores, count):
    """Indices of the `count` lowest scores, equal scores taking the lower index first."""
    order = np.lexsort((np.arange(len(scores)), scores))
    return order[:count]


def mask_unit(scores_col, k0, k1, count):
    keep = np.ones(k1 - k0, dtype=bool)
    keep[lowest(scores_col[k0:k1], count)] = False
    return keep


def wanda():
    x = X.astype(np.float64)
    norms = np.sqrt((x * x).sum(axis=0))
    score = np.abs(W.astype(np.float64)) * norms[:, None]
    keep = np.ones((K, N), dtype=bool)
    for n in range(N):
        if NM:
            for g in range(0, K, NM[1]):
                g1 = min(K, g + NM[1])
                keep[g:g1, n] = mask_unit(score[:, n], g, g1, (g1 - g) - min(NM[0], g1 - g))
        else:
            keep[:, n] = mask_unit(score[:, n], 0, K, round_half_away(SPARSITY * K))
    return keep


def sparsegpt():
    x = X.astype(np.float64)
    h = x.T @ x
    h += np.eye(K) * (0.01 * np.trace(h) / K)
    u = np.linalg.cholesky(np.linalg.inv(h)).T
    w = W.astype(np.float64).T.copy()  # [N, K]: one row per output unit
    keep = np.ones((N, K), dtype=bool)
    group = NM[1] if NM else BLOCK
    for k in range(K):
        if k % group == 0:
            k1 = min(K, k + group)
            d = np.diag(u)[k:k1]
            for n in range(N):
                score = np.zeros(K)
                score[k:k1] = w[n, k:k1] ** 2 / d**2
                if NM:
                    count = (k1 - k) - min(NM[0], k1 - k)
                else:
                    count = round_half_away(SPARSITY * k1) - round_half_away(SPARSITY * k)
                keep[n, k:k1] = mask_unit(score, k, k1, count)
        pruned = ~keep[:, k]
        err = w[pruned, k] / u[k, k]
        w[np.ix_(pruned, np.arange(k + 1, K))] -= np.outer(err, u[k, k + 1 :])
        w[pruned, k] = 0
    return np.where(keep, w, 0).T, keep.T


sg, sg_keep = sparsegpt()
print(
    json.dumps(
        {
            "W": W.ravel().tolist(),
            "X": X.ravel().tolist(),
            "wandaKeep": wanda().astype(int).ravel().tolist(),
            "sparsegpt": sg.ravel().tolist(),
            "sparsegptKeep": sg_keep.astype(int).ravel().tolist(),
        }
    )
)
