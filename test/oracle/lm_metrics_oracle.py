#!/usr/bin/python3
"""Test oracle: causal-LM task metrics written independently in numpy. Reads JSON from stdin
{"vocab": V, "sequences": [{"a": [...seq*V logits], "b": [...], "ids": [...], "mask": [...] or null}]}
and prints {"pplOriginal", "pplCandidate", "klMean", "klMax", "top1Agreement", "tokens"}: position t's
logits predict ids[t+1], counted when mask[t] and mask[t+1] are 1; KL(p_a || p_b) in nats."""
import json
import sys

import numpy as np


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


req = json.load(sys.stdin)
V = req["vocab"]
nll_a, nll_b, kls, agree = [], [], [], []
for s in req["sequences"]:
    ids = np.array(s["ids"], dtype=np.int64)
    a = np.array(s["a"], dtype=np.float64).reshape(len(ids), V)
    b = np.array(s["b"], dtype=np.float64).reshape(len(ids), V)
    mask = np.ones(len(ids), dtype=bool) if s.get("mask") is None else np.array(s["mask"]) == 1
    keep = mask[:-1] & mask[1:]
    la, lb = log_softmax(a[:-1][keep]), log_softmax(b[:-1][keep])
    nxt = ids[1:][keep]
    rows = np.arange(len(nxt))
    nll_a += list(-la[rows, nxt])
    nll_b += list(-lb[rows, nxt])
    kls += list((np.exp(la) * (la - lb)).sum(axis=-1))
    agree += list(a[:-1][keep].argmax(-1) == b[:-1][keep].argmax(-1))
print(json.dumps({
    "pplOriginal": float(np.exp(np.mean(nll_a))),
    "pplCandidate": float(np.exp(np.mean(nll_b))),
    "klMean": float(np.mean(kls)),
    "klMax": float(np.max(kls)),
    "top1Agreement": float(np.mean(agree)),
    "tokens": len(kls),
}))
