#!/usr/bin/env bash
# Runs on a GPU machine lent to a session (the `device` tool), over what
# scripts/device-pack.sh put in .device/ (carried): the CUDA tests against
# the CPU reference, every fixture model (MoE too) on the GPU against the CPU
# (.device/shared holds a subset of ../shared's models), then `nib bench
# -ngl 99` on synthetic llama-7b models that `nib synth` writes there
# (nothing large travels). Logs and the bench tables go to $OUT.
#   run(command="bash scripts/device-check.sh", carry=[".device"], timeout_s=...)
# NIB_DEVICE_TYPES: the llama-7b weight types to bench (default: Q4_0 Q4_K_M Q8_0 F16; empty: none);
# NIB_DEVICE_TESTS: a gtest filter (default Cuda*; "-" skips the tests);
# NIB_DEVICE_KERNELS=0 skips the matvec kernel benchmark (bench_cuda_kernels);
# NIB_DEVICE_NCU=0 skips the Nsight Compute kernel durations of Q4_0 decode steps;
# NIB_DEVICE_ABLATIONS=0 skips Q4_0's runs with one feature off (graphs, PDL, attention splits, tiles).
# With .device/nib-b.xz (device-pack.sh's NIB_DEVICE_PATCH): each model's tg128 with both builds,
# alternated; and with cuobjdump there, both builds' SASS (gzipped) in $OUT.
# NIB_DEVICE_AB_TYPES: the types that alternation runs for (default: all); NIB_DEVICE_AB_ENV="VAR=value
# ...": in it, Q4_0 also runs build A with each setting alone (A/B knobs). Q4_0 alternates at depths 0
# and 4096.
# NIB_DEVICE_AB_CTX=N: the alternation's runs in a context window of at least N tokens (nib bench -c).
# NIB_DEVICE_SASS=0: no SASS dumps.
set -u
out=${OUT:-.device/out} # $OUT on the device machine
mkdir -p "$out"
[ -f .device/lib.tar.xz ] && [ ! -d .device/lib ] && tar -C .device -xJf .device/lib.tar.xz
[ -f .device/nib-b.xz ] && [ ! -f .device/nib-b ] && xz -dk .device/nib-b.xz && chmod +x .device/nib-b
cublas=$(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__) + "/lib")' 2>/dev/null || true)
export LD_LIBRARY_PATH=$PWD/.device/lib:/usr/local/cuda/lib64:${cublas}:${LD_LIBRARY_PATH:-}
export NIB_SHARED_DIR=$PWD/.device/shared
start=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - start )) s] $*"; }

stamp "device"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv 2>&1 | tee "$out/gpu.txt"
if ldd .device/nib | grep -q "not found"; then
  echo "missing libraries:"; ldd .device/nib | grep "not found"
fi

filter=${NIB_DEVICE_TESTS:-Cuda*}
if [ "$filter" != "-" ]; then
  stamp "tests ($filter)"
  timeout 240 .device/nib_tests --gtest_filter="$filter" >"$out/tests.log" 2>&1
  echo "tests exit $?"
  grep -E "^\[  (FAILED|PASSED|SKIPPED) |^\[       OK|Failure|error|Expected|Which is|actual|\[  FAILED  \]" "$out/tests.log" | head -120
fi

if [ "${NIB_DEVICE_KERNELS:-1}" != 0 ]; then
  stamp "matvec kernels"
  timeout 180 .device/bench_cuda_kernels -n 200 -r 3 2>&1 | tee "$out/kernels.md"
fi

for t in ${NIB_DEVICE_TYPES-Q4_0 Q4_K_M Q8_0 F16}; do
  f=.device/llama-7b-$t.gguf # written and removed there (.device is git-ignored)
  stamp "synth llama-7b $t"
  timeout 240 .device/nib synth -o "$f" --preset llama-7b --type "$t" 2>&1 | tail -2
  stamp "bench llama-7b $t"
  depth=0
  [ "$t" = Q4_0 ] && depth=0,4096 # decode over a long context too (split attention)
  timeout 300 .device/nib bench -m "$f" -ngl 99 -p 512 -n 128 -d $depth -r 3 2>>"$out/bench.err" | tee -a "$out/bench.md"
  tail -c 600 "$out/bench.err" | tr '\r' '\n' | tail -3
  if [ "$t" = Q4_0 ]; then
    stamp "bench llama-7b $t, decode at depth 0 in a 4096-token window (32 attention splits)"
    timeout 120 .device/nib bench -m "$f" -ngl 99 -p 0 -n 128 -c 4096 -r 3 2>>"$out/bench.err" | tee -a "$out/bench.md"
  fi
  if [ "$t" = Q4_0 ] && [ "${NIB_DEVICE_ABLATIONS:-1}" != 0 ]; then
    stamp "bench llama-7b $t, decode without CUDA graphs (NIB_CUDA_GRAPH=0)"
    NIB_CUDA_GRAPH=0 timeout 120 .device/nib bench -m "$f" -ngl 99 -p 0 -n 128 -r 3 2>>"$out/bench.err" | tee -a "$out/bench.md"
    stamp "bench llama-7b $t, decode attention in one key split (NIB_CUDA_ATT_SPLIT=1)"
    NIB_CUDA_ATT_SPLIT=1 timeout 120 .device/nib bench -m "$f" -ngl 99 -p 0 -n 128 -r 3 2>>"$out/bench.err" | tee -a "$out/bench.md"
    stamp "bench llama-7b $t, prefill with the per-row attention (NIB_CUDA_ATT_TILES=0)"
    NIB_CUDA_ATT_TILES=0 timeout 120 .device/nib bench -m "$f" -ngl 99 -p 512 -n 0 -d 0,4096 -r 3 2>>"$out/bench.err" | tee -a "$out/bench.md"
    stamp "bench llama-7b $t, decode without programmatic dependent launch (NIB_CUDA_PDL=0)"
    NIB_CUDA_PDL=0 timeout 120 .device/nib bench -m "$f" -ngl 99 -p 0 -n 128 -r 3 2>>"$out/bench.err" | tee -a "$out/bench.md"
  fi
  if [ -x .device/nib-b ] && [[ " ${NIB_DEVICE_AB_TYPES:-$t} " == *" $t "* ]]; then
    envs= ab_depth=0
    [ "$t" = Q4_0 ] && envs=${NIB_DEVICE_AB_ENV:-} ab_depth=0,4096
    for round in 1 2; do
      for build in A B $envs; do
        bin=.device/nib setting=
        [ "$build" = B ] && bin=.device/nib-b
        case "$build" in *=*) setting=$build ;; esac
        stamp "tg128 $t, build $build ($bin)"
        env $setting timeout 60 $bin bench -m "$f" -ngl 99 -p 0 -n 128 -d $ab_depth ${NIB_DEVICE_AB_CTX:+-c $NIB_DEVICE_AB_CTX} -r 3 \
          2>/dev/null | grep tg128 | sed "s/^/$build /" |
          tee -a "$out/ab.md"
      done
    done
  fi
  [ "$t" = Q4_0 ] && [ "${NIB_DEVICE_NCU:-1}" != 0 ] && keep=$f || rm -f "$f"
done

# where one decode step's time goes: Nsight Compute's duration of every kernel of a few tg steps
if [ -n "${keep:-}" ] && command -v ncu >/dev/null; then
  stamp "ncu: kernel durations of decode steps (llama-7b Q4_0)"
  timeout 180 ncu --csv --metrics gpu__time_duration.sum --launch-skip 3000 --launch-count 400 \
    .device/nib bench -m "$keep" -ngl 99 -p 0 -n 32 -r 1 >"$out/ncu.csv" 2>&1
  python3 - "$out/ncu.csv" <<'PY' | tee "$out/ncu-summary.md"
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1], errors="replace")) if len(r) > 10]
if not rows:
    sys.exit("ncu wrote no table")
head = rows[0]
ki, vi, ui = head.index("Kernel Name"), head.index("Metric Value"), head.index("Metric Unit")
to_ns = {"nsecond": 1, "ns": 1, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6}
tot, cnt = collections.Counter(), collections.Counter()
for r in rows[1:]:
    try:
        v = float(r[vi].replace(",", "")) * to_ns.get(r[ui], 1)
    except ValueError:
        continue
    name = r[ki].split("(")[0][:60]
    tot[name] += v
    cnt[name] += 1
s = sum(tot.values())
print("| kernel | launches | total us | mean us | share |")
print("| --- | ---: | ---: | ---: | ---: |")
for k, v in tot.most_common():
    print(f"| {k} | {cnt[k]} | {v / 1e3:.1f} | {v / cnt[k] / 1e3:.2f} | {100 * v / s:.1f}% |")
PY
  rm -f "$keep"
fi
cuobjdump=$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)
if [ -x "$cuobjdump" ] && [ "${NIB_DEVICE_SASS:-1}" != 0 ]; then # the kernels as ptxas scheduled them
  stamp "SASS"
  for bin in .device/nib .device/nib-b; do
    [ -x "$bin" ] && "$cuobjdump" -sass "$bin" 2>&1 | gzip >"$out/$(basename "$bin").sass.gz"
  done
  ls -la "$out"/*.sass.gz
fi
stamp "done"
