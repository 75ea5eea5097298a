#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures for the CNN-F tests.

Builds the CNN-F feedback layers and both models in PyTorch from
shared/cnnf-spec.md, with the reference's module layout (so state_dict keys
and aliases are the reference's), computes every entry point, the
adversarial-training loss, the parameter gradients and the weights after one
clipped SGD step, and writes them as safetensors under tests/fixtures/.

Weights and inputs come from the same xorshift generator as the TypeScript
tests (tests/_util.ts randomData), so the 12 MB Fashion-MNIST model needs no
stored weights. The small Wide ResNet's weights are stored, as a checkpoint
in the reference layout.

With --check-ts it also loads checkpoints this library wrote
(tests/fixtures/ts_*.safetensors, from tools/export_ts_checkpoint.ts) into
the PyTorch models with load_state_dict(strict=True) and compares logits.

Run with Debian's python3-torch: /usr/bin/python3 tools/make_fixtures.py
"""
import json
import math
import struct
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
torch.set_num_threads(1)


# ---------------------------------------------------------------- data
def random_data(n, seed, lo=-1.0, hi=1.0):
    """xorshift32 floats, identical to tests/_util.ts randomData."""
    s = (seed * 2654435761) & 0xFFFFFFFF or 1
    out = torch.empty(n, dtype=torch.float32)
    vals = [0.0] * n
    for i in range(n):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        vals[i] = lo + (hi - lo) * (s / 4294967296)
    out[:] = torch.tensor(vals, dtype=torch.float64).float()
    return out


def sample_indices(n, k=64):
    return [(j * n) // k for j in range(k)] if n > k else list(range(n))


# --------------------------------------------------------- safetensors
def write_safetensors(path, tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if t.dtype == torch.float32:
            dt, raw = "F32", t.numpy().astype("<f4").tobytes()
        elif t.dtype == torch.int64:
            dt, raw = "I64", t.numpy().astype("<i8").tobytes()
        elif t.dtype == torch.int32:
            dt, raw = "I32", t.numpy().astype("<i4").tobytes()
        else:
            raise ValueError(f"{name}: unsupported dtype {t.dtype}")
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    js = json.dumps(header).encode()
    js += b" " * ((8 - (8 + len(js)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        dt = {"F32": torch.float32, "I32": torch.int32, "I64": torch.int64}[e["dtype"]]
        out[name] = torch.frombuffer(bytearray(data[base + a:base + b]), dtype=dt).reshape(e["shape"]).clone()
    return out


# ------------------------------------------------------ feedback layers
class FbConv(nn.Module):
    """Reference layout: conv and conv_t share one weight Parameter."""

    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False)
        self.conv_t = nn.ConvTranspose2d(cout, cin, k, stride=stride, padding=padding, bias=False,
                                         output_padding=1 if stride > 1 else 0)
        self.conv_t.weight = self.conv.weight
        self.stride, self.padding = stride, padding

    def forward(self, x):
        return F.conv2d(x, self.conv.weight, stride=self.stride, padding=self.padding)

    def feedback(self, z):
        return F.conv_transpose2d(z, self.conv.weight, stride=self.stride, padding=self.padding,
                                  output_padding=1 if self.stride > 1 else 0)


class FbLinear(nn.Module):
    """Reference layout (weight, linear.weight, linear_t.weight); one tied weight in use."""

    def __init__(self, fin, fout):
        super().__init__()
        self.linear = nn.Linear(fin, fout, bias=False)
        self.linear_t = nn.Linear(fout, fin, bias=False)
        self.linear_t.weight.data = self.linear.weight.data.t()
        self.weight = self.linear.weight

    def forward(self, x):
        return x @ self.linear.weight.t()

    def feedback(self, z):
        return z @ self.linear.weight


class Bias(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(*shape))

    def forward(self, x):
        return x + self.bias


def ins_norm(x):
    return x / torch.sqrt(torch.mean(x ** 2, dim=(2, 3), keepdim=True) + 1e-8)


class AdaReLU:
    def __init__(self, res):
        self.res = res
        self.reset()

    def reset(self):
        self.mask = None
        self.hidden = None

    def forward(self, x):
        if self.hidden is None:
            m = (x > 0).float()
        else:
            x = x + self.res * (self.hidden - x)
            m = ((x * self.hidden) > 0).float()
        self.mask = m
        return x * m

    def feedback(self, z):
        self.hidden = z
        return z * self.mask


class AdaPool:
    def __init__(self):
        self.reset()

    def reset(self):
        self.pos_ind = self.neg_ind = self.pos = self.neg = self.hidden = None

    def forward(self, x):
        if self.hidden is None:
            self.size = x.shape
            out, self.pos_ind = F.max_pool2d(x, 2, return_indices=True)
            return out
        mx, self.pos_ind = F.max_pool2d(x, 2, return_indices=True)
        mn, self.neg_ind = F.max_pool2d(-x, 2, return_indices=True)
        self.pos = (self.hidden > 0).float()
        self.neg = (self.hidden < 0).float()
        return self.pos * mx + self.neg * (-mn)

    def feedback(self, z):
        self.hidden = z
        size = self.size[2:]
        if self.pos is None:
            return F.max_unpool2d(z, self.pos_ind, 2, output_size=size)
        return (F.max_unpool2d(z * self.pos, self.pos_ind, 2, output_size=size)
                + F.max_unpool2d(z * self.neg, self.neg_ind, 2, output_size=size))


# ---------------------------------------------------------------- models
class Base(nn.Module):
    def run_all(self, x, cycles=None):
        cycles = self.cycles if cycles is None else cycles
        self.reset()
        logits, feat, _ = self.fwd(x, True)
        outs = [logits]
        f = feat
        for _ in range(cycles):
            r, _ = self.fb(outs[-1])
            f = f + self.res * (r - f)
            outs.append(self.fwd(f, False)[0])
        return outs

    def adv_loss(self, clean, adv, labels, lc, lm):
        c, b = self.cycles, clean.shape[0]
        self.reset()
        logits, feat, blocks = self.fwd(torch.cat([clean, adv]), True)
        targets = [t[:b] for t in [feat] + blocks]

        def ce(lg):
            return (lc * F.cross_entropy(lg[:b], labels) + F.cross_entropy(lg[b:], labels)) / (2 * (c + 1))

        loss = ce(logits)
        f = feat
        for _ in range(c):
            recon, rblocks = self.fb(logits)
            recons = [recon] + rblocks
            loss = loss + sum(F.mse_loss(r[b:], t) for r, t in zip(recons, targets)) * lm / (len(recons) * c)
            f = f + self.res * (recon - f)
            logits = self.fwd(f, False)[0]
            loss = loss + ce(logits)
        return loss


class FmnistCNNF(Base):
    def __init__(self, ind, cycles, res=0.1, nc=10):
        super().__init__()
        self.ind, self.cycles, self.res = ind, cycles, res
        self.conv1 = FbConv(1, 16, 3, padding=1)
        self.ins1_bias = Bias((1, 16, 1, 1))
        self.conv2 = FbConv(16, 32, 3, padding=1)
        self.ins2_bias = Bias((1, 32, 1, 1))
        self.conv3 = FbConv(32, 32, 3, padding=1)
        self.ins3_bias = Bias((1, 32, 1, 1))
        self.conv4 = FbConv(32, 64, 3, padding=1)
        self.ins4_bias = Bias((1, 64, 1, 1))
        self.fc1 = FbLinear(3136, 1000)
        self.fc1_bias = Bias((1, 1000))
        self.fc2 = FbLinear(1000, 128)
        self.fc2_bias = Bias((1, 128))
        self.fc3 = FbLinear(128, nc)
        self.fc3_bias = Bias((1, nc))
        self.relus = [AdaReLU(res) for _ in range(6)]
        self.pools = [AdaPool(), AdaPool()]

    def reset(self):
        for m in self.relus + self.pools:
            m.reset()

    def fwd(self, x, first):
        r = self.relus
        blk = lambda h, c, b, a: a.forward(b(ins_norm(c(h))))
        feat = None
        if first and self.ind == 0:
            feat = x
        if self.ind == 0 or first:
            x = blk(x, self.conv1, self.ins1_bias, r[0])
        if first and self.ind == 1:
            feat = x
        if self.ind <= 1 or first:
            x = blk(x, self.conv2, self.ins2_bias, r[1])
        if first and self.ind == 2:
            feat = x
        x = blk(x, self.conv3, self.ins3_bias, r[2])
        b1 = x
        x = self.pools[0].forward(x)
        x = blk(x, self.conv4, self.ins4_bias, r[3])
        b2 = x
        x = self.pools[1].forward(x)
        self.flat = x.shape
        x = x.reshape(x.shape[0], -1)
        x = r[4].forward(self.fc1_bias(self.fc1(x)))
        x = r[5].forward(self.fc2_bias(self.fc2(x)))
        return self.fc3_bias(self.fc3(x)), feat, [b1, b2]

    def fb(self, z):
        r = self.relus
        h = self.fc1.feedback(r[4].feedback(self.fc2.feedback(r[5].feedback(self.fc3.feedback(z)))))
        h = h.reshape(h.shape[0], *self.flat[1:])
        h = r[3].feedback(self.pools[1].feedback(ins_norm(h)))
        b2 = h
        h = r[2].feedback(self.pools[0].feedback(ins_norm(self.conv4.feedback(h))))
        b1 = h
        h = self.conv3.feedback(h)
        if self.ind <= 1:
            h = self.conv2.feedback(r[1].feedback(ins_norm(h)))
        if self.ind == 0:
            h = self.conv1.feedback(r[0].feedback(ins_norm(h)))
        return h, [b1, b2]


class Block(nn.Module):
    def __init__(self, cin, cout, stride, res):
        super().__init__()
        self.ins1_bias = Bias((1, cin, 1, 1))
        self.conv1 = FbConv(cin, cout, 3, stride=stride, padding=1)
        self.ins2_bias = Bias((1, cout, 1, 1))
        self.conv2 = FbConv(cout, cout, 3, padding=1)
        self.conv_shortcut = FbConv(cin, cout, 1, stride=stride) if cin != cout else None
        self.r1, self.r2 = AdaReLU(res), AdaReLU(res)

    def forward(self, x):
        pre = self.r1.forward(self.ins1_bias(ins_norm(x)))
        h = self.conv2(self.r2.forward(self.ins2_bias(ins_norm(self.conv1(pre)))))
        return self.conv_shortcut(pre) + h if self.conv_shortcut is not None else x + h

    def feedback(self, z):
        h = self.r2.feedback(ins_norm(self.conv2.feedback(z)))
        h = ins_norm(self.conv1.feedback(h))
        if self.conv_shortcut is not None:
            h = self.conv_shortcut.feedback(z) + h
        h = self.r1.feedback(h)
        return h if self.conv_shortcut is not None else z + h


class Group(nn.Module):
    def __init__(self, n, cin, cout, stride, res):
        super().__init__()
        self.layer = nn.ModuleList([Block(cin if i == 0 else cout, cout, stride if i == 0 else 1, res) for i in range(n)])


class WRN(Base):
    def __init__(self, depth, k, ind, cycles, res=0.1, nc=10):
        super().__init__()
        n = (depth - 4) // 6
        ch = [16, 16 * k, 32 * k, 64 * k]
        self.ind, self.cycles, self.res = ind, cycles, res
        self.conv1 = FbConv(3, ch[0], 3, padding=1)
        self.block1 = Group(n, ch[0], ch[1], 1, res)
        self.block2 = Group(n, ch[1], ch[2], 2, res)
        self.block3 = Group(n, ch[2], ch[3], 2, res)
        self.ins1_bias = Bias((1, ch[3], 1, 1))
        self.relu = AdaReLU(res)
        self.fc = FbLinear(ch[3], nc)
        self.fc_bias = Bias((1, nc))

    def reset(self):
        self.relu.reset()
        for g in (self.block1, self.block2, self.block3):
            for b in g.layer:
                b.r1.reset()
                b.r2.reset()

    def fwd(self, x, first):
        feat = x if (first and self.ind == 0) else None
        if self.ind == 0 or first:
            x = self.conv1(x)
        for i, b in enumerate(self.block1.layer):
            if self.ind == 0 or first or i + 1 > self.ind:
                x = b(x)
            if first and self.ind > 0 and i + 1 == self.ind:
                feat = x
        b1 = x
        for b in self.block2.layer:
            x = b(x)
        b2 = x
        for b in self.block3.layer:
            x = b(x)
        b3 = x
        x = self.relu.forward(self.ins1_bias(ins_norm(x)))
        x = F.avg_pool2d(x, 8)
        self.flat = x.shape
        x = x.reshape(x.shape[0], -1)
        return self.fc_bias(self.fc(x)), feat, [b1, b2, b3]

    def fb(self, z):
        h = self.fc.feedback(z).reshape(z.shape[0], *self.flat[1:])
        h = self.relu.feedback(ins_norm(F.interpolate(h, scale_factor=8)))
        b3 = h
        for b in reversed(self.block3.layer):
            h = b.feedback(h)
        b2 = h
        for b in reversed(self.block2.layer):
            h = b.feedback(h)
        b1 = h
        n = len(self.block1.layer)
        keep = n if self.ind == 0 else n - self.ind
        for i, b in enumerate(reversed(self.block1.layer)):
            if i < keep:
                h = b.feedback(h)
        if self.ind == 0:
            h = self.conv1.feedback(h)
        return h, [b1, b2, b3]


# -------------------------------------------------------------- weights
def canonical_params(model):
    """(name, Parameter) for the tensors our library owns (no aliases)."""
    out = []
    for name, p in model.named_parameters():
        if name.endswith(".conv_t.weight") or name.endswith(".linear.weight") or name.endswith(".linear_t.weight"):
            continue
        out.append((name, p))
    return out


def init_deterministic(model, seed):
    """Weights from xorshift: the TypeScript tests regenerate them exactly."""
    with torch.no_grad():
        for i, (name, p) in enumerate(canonical_params(model)):
            n = p.numel()
            if name.endswith("bias"):
                bound = 0.1
            elif p.dim() == 4:
                bound = math.sqrt(3) * math.sqrt(2.0 / (p.shape[2] * p.shape[3] * p.shape[0]))
            else:
                bound = 1 / math.sqrt(p.shape[1])
            p.copy_(random_data(n, seed + i, -bound, bound).reshape(p.shape))
        for m in model.modules():
            if isinstance(m, FbLinear):
                m.linear_t.weight.data = m.linear.weight.data.t()


def full_state_dict(model):
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    return sd


def entry_points(model, x, prefix, out):
    with torch.no_grad():
        outs = model.run_all(x)
        out[f"{prefix}.first"] = outs[0]
        out[f"{prefix}.last"] = outs[-1]
        out[f"{prefix}.average"] = sum(outs) / len(outs)
        model.reset()
        logits, feat, blocks = model.fwd(x, True)
        recon, rblocks = model.fb(logits)
        out[f"{prefix}.recon"] = recon
        for i, r in enumerate(rblocks):
            out[f"{prefix}.recon_block{i + 1}"] = r


def train_step(model, clean, adv, labels, prefix, out, sample):
    model.zero_grad()
    loss = model.adv_loss(clean, adv, labels, lc=0.1, lm=0.1)
    loss.backward()
    out[f"{prefix}.loss"] = loss.detach().reshape(1)
    params = canonical_params(model)
    for name, p in params:
        g = p.grad.detach().clone().flatten()
        out[f"{prefix}.grad.{name}"] = g[sample(g.numel())] if sample else g.reshape(p.shape)
    torch.nn.utils.clip_grad_norm_([p for _, p in params], 0.5)
    opt = torch.optim.SGD([p for _, p in params], lr=0.05, momentum=0.9, weight_decay=5e-4)
    opt.step()
    for name, p in params:
        w = p.detach().clone().flatten()
        out[f"{prefix}.step.{name}"] = w[sample(w.numel())] if sample else w.reshape(p.shape)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    if "--check-ts" in sys.argv:
        return check_ts()
    torch.manual_seed(0)
    fx = {}
    # Inputs: 2 clean images, their adversarial versions, labels.
    x = random_data(2 * 784, 101).reshape(2, 1, 28, 28)
    adv = torch.clamp(x + 0.2 * torch.sign(random_data(2 * 784, 102).reshape(2, 1, 28, 28)), -1, 1)
    labels = torch.tensor([3, 7])
    fx["fmnist.x"], fx["fmnist.adv"], fx["fmnist.labels"] = x, adv, labels.int()
    for ind in (0, 1, 2):
        m = FmnistCNNF(ind=ind, cycles=2)
        init_deterministic(m, 1000)
        entry_points(m, x, f"fmnist.ind{ind}", fx)
    m = FmnistCNNF(ind=2, cycles=1)
    init_deterministic(m, 1000)
    idx = lambda n: torch.tensor(sample_indices(n))
    train_step(m, x, adv, labels, "fmnist.train", fx, idx)
    write_safetensors(OUT / "fmnist_parity.safetensors", fx, {"generator": "tools/make_fixtures.py"})

    # Reduced-width WRN (depth 10, k 1): stored weights in the reference layout.
    wx = random_data(2 * 3 * 32 * 32, 201).reshape(2, 3, 32, 32)
    wadv = torch.clamp(wx + 0.063 * torch.sign(random_data(2 * 3 * 32 * 32, 202).reshape(2, 3, 32, 32)), -1, 1)
    wfx = {"wrn.x": wx, "wrn.adv": wadv, "wrn.labels": labels.int()}
    w = WRN(10, 1, ind=1, cycles=2)
    init_deterministic(w, 2000)
    write_safetensors(OUT / "wrn_small_reference.safetensors", full_state_dict(w), {"format": "pt"})
    wfx["wrn.keys"] = torch.zeros(1)
    entry_points(w, wx, "wrn.ind1", wfx)
    w0 = WRN(10, 1, ind=0, cycles=1)
    w0.load_state_dict(w.state_dict())
    entry_points(w0, wx, "wrn.ind0", wfx)
    train_step(w, wx, wadv, labels, "wrn.train", wfx, None)
    optimizer_fixtures()
    keys = sorted(full_state_dict(WRN(10, 1, ind=1, cycles=2)).keys())
    write_safetensors(OUT / "wrn_small_parity.safetensors", wfx, {"state_dict_keys": json.dumps(keys)})
    print(f"wrote fixtures to {OUT}")


def optimizer_fixtures():
    """Three steps of each optimizer on fixed gradients, and the LR schedules."""
    out = {}
    p0 = random_data(7, 301)
    grads = [random_data(7, 310 + k) for k in range(3)]
    configs = {
        "sgd": lambda p: torch.optim.SGD([p], lr=0.1),
        "sgd_momentum_wd": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01, dampening=0.1),
        "sgd_nesterov": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True),
        "adam": lambda p: torch.optim.Adam([p], lr=0.01),
        "adam_wd": lambda p: torch.optim.Adam([p], lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    }
    for name, make in configs.items():
        p = nn.Parameter(p0.clone())
        opt = make(p)
        for k in range(3):
            p.grad = grads[k].clone()
            opt.step()
            out[f"{name}.step{k + 1}"] = p.detach().clone()
    out["p0"] = p0
    for k in range(3):
        out[f"grad{k}"] = grads[k]
    # clip_grad_norm_ over two tensors.
    a, b = nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(2))
    a.grad, b.grad = torch.tensor([3.0, 4.0, 0.0]), torch.tensor([12.0, 0.0])
    out["clip.norm"] = torch.nn.utils.clip_grad_norm_([a, b], 1.0).reshape(1)
    out["clip.a"], out["clip.b"] = a.grad.clone(), b.grad.clone()
    # Schedules over 10 steps from lr 0.05, as the reference's LambdaLR.
    total = 10
    for kind, fn in {
        "poly": lambda t: (1 - t / total) ** 0.9,
        "cosine": lambda t: 1e-5 + (1 - 1e-5) * 0.5 * (1 + math.cos(math.pi * t / total)),
    }.items():
        q = nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([q], lr=0.05)
        sch = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=fn)
        lrs = []
        for _ in range(total):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sch.step()
        out[f"schedule.{kind}"] = torch.tensor(lrs, dtype=torch.float32)
    write_safetensors(OUT / "optim_parity.safetensors", out)


def check_ts():
    """Loads checkpoints this library wrote into the reference layout."""
    ok = True
    path = OUT / "ts_wrn_small.safetensors"
    sd = read_safetensors(path)
    ref = read_safetensors(OUT / "ts_wrn_small_logits.safetensors")
    w = WRN(10, 1, ind=1, cycles=2)
    w.load_state_dict(sd, strict=True)
    for m in w.modules():
        if isinstance(m, FbLinear):
            ok &= torch.equal(m.linear_t.weight.data, m.linear.weight.data.t())
    with torch.no_grad():
        outs = w.run_all(ref["x"])
    err = (sum(outs) / len(outs) - ref["average"]).abs().max().item()
    print(f"{path.name}: load_state_dict(strict=True) ok, average-logit max error {err:.3g}")
    ok &= err < 1e-4
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
