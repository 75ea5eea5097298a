#!/usr/bin/env python3
"""PyTorch side of bench/compare: the same rows as our engine, timed the same way.

Speaks JSON lines with run.ts: the first line in is {threads, settings},
answered by {"info": ...}; then each line in is {spec, plan}, answered by
{ms, runs} or {skip}, so each row is timed right after our engine's. The CNN-F model is the reference
Fashion-MNIST CNN-F of tools/make_fixtures.py (imported, not copied); PGD is
advertorch's LinfPGD as CNN-F trains with it (parameters frozen, eval mode,
summed cross entropy, sign steps, eps box then [-1, 1]), and the training
step is the reference's: PGD-7 on the first pass, the CNN-F loss, backward,
global norm clip, SGD with momentum and weight decay, a poly schedule.

Run with Debian's python3-torch: /usr/bin/python3 (called by run.ts).
"""
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from make_fixtures import FmnistCNNF, canonical_params  # noqa: E402


def measure(fn, plan):
    for _ in range(plan["warmup"]):
        fn()
    runs, spent = [], 0.0
    while len(runs) < plan["reps"] and (not runs or spent < plan["budgetMs"]):
        t0 = time.perf_counter()
        fn()
        ms = (time.perf_counter() - t0) * 1000
        runs.append(ms)
        spent += ms
    return {"ms": statistics.median(runs), "runs": runs}


def uniform(*shape, scale=1.0):
    return (torch.rand(*shape) * 2 - 1) * scale


def matmul_job(s):
    a, b = uniform(s["n"], s["n"]), uniform(s["n"], s["n"])
    return lambda: torch.mm(a, b)


def conv_job(s):
    nb, cin, cout, size = s["batch"], s["cin"], s["cout"], s["size"]
    x = uniform(nb, cin, size, size)
    w = uniform(cout, cin, 3, 3, scale=0.1)
    gy = uniform(nb, cout, size, size)
    if s["op"] == "fwd":
        return lambda: F.conv2d(x, w, padding=1)
    # The kernel autograd runs for conv2d's backward, asked for one output.
    mask = [s["op"] == "dx", s["op"] == "dw", False]
    return lambda: torch.ops.aten.convolution_backward(
        gy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)


def pgd(model, x, y, cfg, mode):
    """advertorch LinfPGDAttack inside ctx_noparamgrad_and_eval, as CNN-F uses it."""
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    was_training = model.training
    for p in params:
        p.requires_grad_(False)
    model.eval()
    eps, step = cfg["eps"], cfg["epsIter"]
    delta = uniform(*x.shape, scale=eps)
    delta = (x + delta).clamp(-1, 1) - x
    for _ in range(cfg["nbIter"]):
        delta.requires_grad_(True)
        if mode == "first":
            model.reset()
            logits = model.fwd(x + delta, True)[0]
        else:
            outs = model.run_all(x + delta)
            logits = sum(outs) / len(outs)
        loss = F.cross_entropy(logits, y, reduction="sum")
        (g,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta = (delta + step * g.sign()).clamp(-eps, eps)
            delta = (x + delta).clamp(-1, 1) - x
    for p, f in zip(params, flags):
        p.requires_grad_(f)
    model.train(was_training)
    model.reset()
    return (x + delta).clamp(-1, 1).detach()


def cnnf_job(s, cfg):
    model = FmnistCNNF(ind=cfg["ind"], cycles=cfg["cycles"], res=cfg["resParam"])
    b = s["batch"]
    x = uniform(b, 1, 28, 28)
    y = torch.arange(b) % 10
    what = s["what"]
    if what in ("forward", "cycles"):
        model.eval()

        def run():
            with torch.no_grad():
                if what == "forward":
                    model.reset()
                    model.fwd(x, True)
                else:
                    outs = model.run_all(x)
                    sum(outs) / len(outs)
            model.reset()
        return run
    if what in ("pgd_first", "pgd_e2e"):
        return lambda: pgd(model, x, y, cfg, "first" if what == "pgd_first" else "e2e")
    params = [p for _, p in canonical_params(model)]
    opt = torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["wd"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: (1 - t / 1e6) ** cfg["power"])

    def step():
        model.train()
        adv = pgd(model, x, y, cfg, "first")
        opt.zero_grad()
        loss = model.adv_loss(x, adv, y, cfg["cleanParam"], cfg["mseParam"])
        loss.backward()
        if cfg["gradClip"] > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg["gradClip"])
        opt.step()
        sched.step()
        model.reset()
        loss.item()
    return step


def blas_library():
    """The BLAS this process loaded (Debian's torch links libblas.so.3)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {p for p in (line.split()[-1] for line in f)
                    if "blas" in p.rsplit("/", 1)[-1] and ".so" in p}
    except OSError:
        return "unknown BLAS"
    if not libs:
        return "no BLAS library mapped"
    lib = sorted(libs, key=lambda p: "openblas" not in p)[0]
    slow = "/blas/libblas" in lib
    return f"BLAS {lib}" + (" (reference BLAS, far slower than OpenBLAS: see bench/compare/README.md)" if slow else "")


def main():
    """A line protocol on stdin/stdout so run.ts can time each row right after ours."""
    args = json.loads(sys.stdin.readline())
    torch.set_num_threads(args["threads"])
    torch.manual_seed(0)
    info = f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} thread(s), {blas_library()}"
    print(json.dumps({"info": info}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        s = req["spec"]
        try:
            if s["kind"] == "matmul":
                job = matmul_job(s)
            elif s["kind"] == "conv":
                job = conv_job(s)
            else:
                job = cnnf_job(s, args["settings"])
            out = measure(job, req["plan"])
        except Exception as e:  # one failed row must not lose the others
            out = {"skip": f"{type(e).__name__}: {e}"[:160]}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
