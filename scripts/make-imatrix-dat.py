#!/usr/bin/env python3
"""Writes a random importance matrix in llama.cpp's legacy .dat format for
every weight matrix of a GGUF model (a developer tool for
scripts/quantize-vs-llama.sh; real ones come from llama-imatrix).
   scripts/make-imatrix-dat.py MODEL.gguf OUT.dat [SEED]
Per tensor: n_per_row * n_experts positive values (some zero), ncall 10, then
the trailing chunk count 10 and the dataset name "synthetic"."""
import random
import struct
import sys


def tensors(path):
    d = open(path, 'rb').read()
    o = [4]

    def u(f):
        v = struct.unpack_from(f, d, o[0])
        o[0] += struct.calcsize(f)
        return v[0]

    def s():
        n = u('<Q')
        v = d[o[0]:o[0] + n]
        o[0] += n
        return v.decode()

    sizes = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?', 10: '<Q', 11: '<q', 12: '<d'}

    def val(t):
        if t == 8:
            return s()
        if t == 9:
            et, n = u('<I'), u('<Q')
            return [val(et) for _ in range(n)]
        return u(sizes[t])

    u('<I')
    nt, nk = u('<Q'), u('<Q')
    for _ in range(nk):
        s()
        val(u('<I'))
    out = []
    for _ in range(nt):
        name = s()
        ne = [u('<Q') for _ in range(u('<I'))]
        u('<I')
        u('<Q')
        out.append((name, ne))
    return out


def main():
    model, dst = sys.argv[1], sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    entries = [(n, ne) for n, ne in tensors(model) if len(ne) >= 2 and n.endswith('.weight') and 'norm' not in n]
    with open(dst, 'wb') as f:
        f.write(struct.pack('<i', len(entries)))
        for name, ne in entries:
            nval = ne[0] * (ne[2] if len(ne) > 2 else 1)
            vals = [0.0 if rng.random() < 0.02 else rng.expovariate(1.0) * 10 for _ in range(nval)]
            b = name.encode()
            f.write(struct.pack('<i', len(b)) + b + struct.pack('<ii', 10, nval))
            f.write(struct.pack('<%df' % nval, *vals))
        f.write(struct.pack('<i', 10))
        f.write(struct.pack('<i', 9) + b'synthetic')


main()
