#!/usr/bin/env python3
"""Expected perplexity from llama.cpp's own logits, for tests/test_perplexity.cc.

Recreates llama-perplexity's perplexity() outside nib: the text (one trailing
newline dropped, as llama.cpp's -f) is tokenized by llama.cpp with BOS as the
model says and special-token text left as text; n_chunk = n_tokens // n_ctx
(capped by --chunks); each chunk is evaluated by llama.cpp from an empty
context with its first token replaced by BOS (llamaref `logits --all
--dump-logits`, flash attention off, one batch of n_ctx tokens; its context is
made a little larger than n_ctx, which node-llama-cpp needs and which does
not change the masked attention); positions
n_ctx/2 .. n_ctx-2 are scored against the next token with llama.cpp's
log-softmax (max and exp in float32, the sum in float64). Prints one JSON
object: ppl, ppl_stderr (llama.cpp's formula), n_chunks, n_ctx, n_tokens,
n_tokens_scored, running (the "[i]x" estimates).

usage: make_reference.py --ref /path/to/llamaref.mjs -m MODEL.gguf -f TEXT -c N [--chunks N] [-t 1]
"""
import argparse, array, json, math, os, struct, subprocess, sys, tempfile


def f32(x):
    """x rounded to float32, as C's float arithmetic does."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", required=True)
    ap.add_argument("-m", required=True)
    ap.add_argument("-f", required=True)
    ap.add_argument("-c", type=int, required=True)
    ap.add_argument("--chunks", type=int, default=-1)
    ap.add_argument("-t", default="1")
    a = ap.parse_args()

    text = open(a.f, "rb").read()
    if text.endswith(b"\n"):
        text = text[:-1]
    tmp = tempfile.mkdtemp()
    tf = os.path.join(tmp, "text.txt")
    open(tf, "wb").write(text)
    tokens = json.loads(run(["node", a.ref, "tokenize", "-m", a.m, "-f", tf, "--no-special"]))
    # The vocab adds BOS iff tokenizing without BOS gives one token less.
    plain = json.loads(run(["node", a.ref, "tokenize", "-m", a.m, "-f", tf, "--no-special", "--no-bos"]))
    add_bos = len(tokens) == len(plain) + 1
    n_ctx = a.c
    if len(tokens) < 2 * n_ctx:
        sys.exit("need at least %d tokens, have %d" % (2 * n_ctx, len(tokens)))
    n_chunk = len(tokens) // n_ctx
    if a.chunks > 0:
        n_chunk = min(n_chunk, a.chunks)
    bos = tokens[0]
    first = n_ctx // 2
    nll = nll2 = 0.0
    count = 0
    running = []
    for c in range(n_chunk):
        chunk = list(tokens[c * n_ctx:(c + 1) * n_ctx])
        if add_bos:
            chunk[0] = bos
        dump = os.path.join(tmp, "chunk.f32")
        run(["node", a.ref, "logits", "-m", a.m, "--tokens", ",".join(map(str, chunk)), "--all",
             "--dump-logits", dump, "--fa", "off", "-c", str(max(512, n_ctx + 1)), "-b", str(n_ctx), "-t", a.t])
        flat = array.array("f")
        flat.frombytes(open(dump, "rb").read())
        n_vocab = len(flat) // n_ctx
        for p in range(first, n_ctx - 1):
            row = flat[p * n_vocab:(p + 1) * n_vocab]
            mx = max(row)
            s = 0.0
            for x in row:
                s += f32(math.exp(f32(x - mx)))
            v = -(f32(row[tokens[c * n_ctx + p + 1]] - mx) - math.log(s))
            nll += v
            nll2 += v * v
            count += 1
        running.append(math.exp(nll / count))
    mean = nll / count
    ppl = math.exp(mean)
    var = nll2 / count - mean * mean
    err = math.sqrt(var / (count - 1)) * ppl
    print(json.dumps({"model": os.path.basename(a.m), "n_ctx": n_ctx, "n_chunks": n_chunk, "n_tokens": len(tokens),
                      "n_tokens_scored": count, "ppl": ppl, "ppl_stderr": err, "running": running}))


if __name__ == "__main__":
    main()
