#!/usr/bin/env bash
# bench/tokenize.sh — tokenizer speed, nib side by side with llama.cpp, in one run.
#
# Builds a 1 MiB English corpus from files every Debian 12 system has; for each vocabulary, runs
# nib's bench_tokenize (one thread, the whole text in one nib_tokenize call) and llama.cpp through
# ../shared/ref/llamaref.mjs (`tokenize --batch`, the whole text as one JSON string line, as many
# lines as make ~3 s of work). Each llamaref run is timed from the end of its start-up (node, the
# library, the vocabulary) to its exit; a one-word run timed the same way is subtracted, and so is
# llamaref's own JSON work on those lines (parse, Array.from, stringify, print: measured in a node
# process that does just that). Checks that both give the same ids; prints one markdown table;
# writes bench/results/tokenize-<date>-<time>.json. See bench/README.md.
#
#   bench/tokenize.sh [-r REPS] [-n NIB_REPS] [-k LINES] [-v "llama-bpe llama-spm qwen2 gpt-2"]
#                     [--nib-only] [--no-build] [-o OUT.json]
# Environment: NIB_BUILD_DIR (default build), NIB_SHARED_DIR (default ../shared),
#              LLAMAREF (default $NIB_SHARED_DIR/ref/llamaref.mjs).
# Needs bash, coreutils, iconv, awk, cmake; node only for the llama.cpp side.
set -euo pipefail
shopt -s inherit_errexit
{ # bash reads this whole block before running it: editing or checking out the file mid-run is safe

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${NIB_BUILD_DIR:-$ROOT/build}
SHARED=${NIB_SHARED_DIR:-$ROOT/../shared}
LLAMAREF=${LLAMAREF:-$SHARED/ref/llamaref.mjs}
VOCAB_DIR=$SHARED/models/vocab
VOCABS="llama-bpe llama-spm qwen2 gpt-2"
REPS=5          # llama.cpp: timed corpus runs, one-word runs and JSON-work runs, each
LINES=""        # llama.cpp: corpus lines per run; empty: enough for REF_TARGET_S of tokenizing
REF_TARGET_S=3
MAX_LINES=32
NIB_REPS=5      # nib: timed repetitions of load and of tokenize, after one warm-up
NIB_ONLY=0
DO_BUILD=1
OUT=""
CORPUS_BYTES=1048576
# sha256 of the corpus made on the machine of the reference figures in bench/README.md
# (Debian 12, base-files 12.4+deb12u11): another value means other package versions.
CORPUS_SHA256_REF=9b4652670f1a2428ccc470026618006c1549bfbbdcccdeeab43a5bae44d8dfb5

die() { echo "tokenize.sh: error: $*" >&2; exit 1; }
warn() { echo "WARNING: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in -r|-n|-k|-v|-o) [ $# -ge 2 ] || die "$1 needs a value" ;; esac
    case "$1" in
        -r) REPS=${2:-}; shift 2 ;;
        -n) NIB_REPS=${2:-}; shift 2 ;;
        -k) LINES=${2:-}; shift 2 ;;
        -v) VOCABS=${2:-}; shift 2 ;;
        -o) OUT=${2:-}; shift 2 ;;
        --nib-only) NIB_ONLY=1; shift ;;
        --no-build) DO_BUILD=0; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
posint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
if ! { posint "$REPS" && posint "$NIB_REPS" && { [ -z "$LINES" ] || posint "$LINES"; }; }; then
    die "-r, -n and -k take a positive integer"
fi

WORK=$BUILD/bench-tokenize
BENCH=$BUILD/bench/bench_tokenize

# ------------------------------------------------------------------------------------------ build
if [ "$DO_BUILD" = 1 ]; then
    [ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    mkdir -p "$WORK"
    cmake --build "$BUILD" --target bench_tokenize -j "$(nproc)" >"$WORK/build.log" 2>&1 ||
        die "build failed (see $WORK/build.log); the top-level CMakeLists.txt needs add_subdirectory(bench)"
fi
[ -x "$BENCH" ] || die "$BENCH missing (build it: cmake --build $BUILD --target bench_tokenize)"
mkdir -p "$WORK"

# ----------------------------------------------------------------------------------------- corpus
# Sources, in this order, each content once (a file identical to an earlier one is skipped):
#  1. /usr/share/common-licenses/*: the regular files (not the GPL, LGPL, GFDL links), names in
#     byte order (base-files, an Essential package);
#  2. /usr/share/doc/<pkg>/copyright of Debian 12's 23 Essential packages, in the order below
#     (kept even in -slim images, which drop the rest of /usr/share/doc).
# 512,815 bytes on Debian 12.12. Invalid UTF-8 would be dropped (iconv -c; there is none), the text
# is repeated, its first 1,048,575 bytes kept (backed off to a character boundary and padded with
# spaces should the cut fall inside a UTF-8 sequence; it does not) and a newline ends it.
ESSENTIAL="base-files base-passwd bash bsdutils coreutils dash debianutils diffutils dpkg findutils
grep gzip hostname init-system-helpers libc-bin login ncurses-base ncurses-bin perl-base sed
sysvinit-utils tar util-linux"

build_corpus() {
    local out=$1 src=$WORK/corpus-src.txt seen=" " f h n k body=$((CORPUS_BYTES - 1))
    {
        find /usr/share/common-licenses -maxdepth 1 -type f | LC_ALL=C sort
        for p in $ESSENTIAL; do echo "/usr/share/doc/$p/copyright"; done
    } >"$WORK/corpus-files.txt"
    : >"$src.raw"
    while read -r f; do
        [ -f "$f" ] || { warn "corpus source $f missing: the corpus differs from the reference one"; continue; }
        h=$(sha256sum <"$f" | cut -c1-64)
        [[ $seen == *" $h "* ]] && continue
        seen="$seen$h "
        cat "$f" >>"$src.raw"
    done <"$WORK/corpus-files.txt"
    iconv -f UTF-8 -t UTF-8 -c <"$src.raw" >"$src" || true
    n=$(stat -c %s "$src")
    [ "$n" -gt 0 ] || die "no corpus sources found (is this a Debian system?)"
    : >"$out.cyc"
    while [ "$(stat -c %s "$out.cyc")" -lt "$body" ]; do cat "$src" >>"$out.cyc"; done
    k=$body
    until head -c "$k" "$out.cyc" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; do k=$((k - 1)); done
    { head -c "$k" "$out.cyc"; printf '%*s' $((body - k)) ''; printf '\n'; } >"$out"
    rm -f "$out.cyc" "$src.raw"
    [ "$(stat -c %s "$out")" -eq "$CORPUS_BYTES" ] || die "corpus is not $CORPUS_BYTES bytes"
}

CORPUS=$WORK/corpus-en-1MiB.txt
build_corpus "$CORPUS"
CORPUS_SHA=$(sha256sum <"$CORPUS" | cut -c1-64)
[ "$CORPUS_SHA" = "$CORPUS_SHA256_REF" ] ||
    warn "corpus sha256 $CORPUS_SHA is not the reference one (other package versions): figures are not comparable"

# --------------------------------------------------------------------------- llama.cpp (llamaref)
HAVE_REF=1
REF_DIR=$(dirname "$LLAMAREF")
if [ "$NIB_ONLY" = 1 ]; then
    HAVE_REF=0
elif ! command -v node >/dev/null; then
    warn "node not found: nib only (the llama.cpp side needs Node.js >= 20)"; HAVE_REF=0
elif [ ! -f "$LLAMAREF" ]; then
    warn "$LLAMAREF not found: nib only (set LLAMAREF or NIB_SHARED_DIR)"; HAVE_REF=0
elif [ ! -d "$REF_DIR/node_modules/node-llama-cpp" ]; then
    warn "llamaref is not installed ($REF_DIR/node_modules missing): nib only. Install it once (~85 MB;
    a writable copy if $REF_DIR is read-only), then run again:
        cp -r $REF_DIR \${TMPDIR:-/tmp}/ref && (cd \${TMPDIR:-/tmp}/ref && npm install)
        LLAMAREF=\${TMPDIR:-/tmp}/ref/llamaref.mjs $0"
    HAVE_REF=0
fi
if [ "$HAVE_REF" = 1 ]; then
    node -e 'const fs = require("fs");
        fs.writeFileSync(process.argv[2], JSON.stringify(fs.readFileSync(process.argv[1], "utf8")) + "\n");' \
        "$CORPUS" "$WORK/corpus-1.jsonl"
    echo '"Hello"' >"$WORK/word.jsonl"
fi

now_ns() { date +%s%N; }
export LC_ALL=C # EPOCHREALTIME with a decimal point

# One llamaref run on a JSON-lines file, output to $3. Prints "whole,tail": seconds of the whole
# run, and from the moment llamaref says it starts tokenizing (its "tokenize: add_special=" line on
# stderr, written just before it reads the batch file: node, the library and the vocabulary are
# loaded by then) to the end. The tail leaves out start-up and its ±0.2 s jitter.
ref_run() {
    local vocab=$1 input=$2 out=$3 t0 t1 ts
    t0=$EPOCHREALTIME
    # stderr through a reader that stamps each line as it arrives (node writes pipes synchronously)
    node "$LLAMAREF" tokenize -m "$vocab" --batch "$input" --no-bos 2>&1 >"$out" |
        while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done >"$WORK/stderr.ts" ||
        die "llamaref failed (see $WORK/stderr.ts)"
    t1=$EPOCHREALTIME
    cut -d' ' -f2- "$WORK/stderr.ts" >>"$WORK/llamaref.log"
    ts=$(awk '$2 == "[llamaref]" && $3 == "tokenize:" { print $1; exit }' "$WORK/stderr.ts")
    [ -n "$ts" ] || die "llamaref printed no 'tokenize:' line (see $WORK/llamaref.log)"
    awk -v a="$t0" -v b="$t1" -v s="$ts" 'BEGIN { printf "%.6f,%.6f", b - a, b - s }'
}

# Seconds llamaref spends on the lines of $1 besides tokenizing: what its tokenize --batch does
# (read, split, JSON.parse each line, Array.from of the native Uint32Array, JSON.stringify,
# console.log to a file), timed inside node, with the ids llama.cpp gave ($2).
ref_json_work() {
    node -e 'const fs = require("fs");
        const ids = Uint32Array.from(JSON.parse(fs.readFileSync(process.argv[2], "utf8").split("\n")[0]));
        const t0 = process.hrtime.bigint();
        const lines = fs.readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.trim() !== "");
        for (const line of lines) {
            if (typeof JSON.parse(line) !== "string") process.exit(1);
            console.log(JSON.stringify(Array.from(ids)));
        }
        fs.writeFileSync(process.argv[3], String(Number(process.hrtime.bigint() - t0) / 1e9));' \
        "$1" "$2" "$WORK/json-work.s" >"$WORK/ref-out.txt"
    cat "$WORK/json-work.s"
}

# "same", or where two one-line JSON arrays first differ.
compare_ids() {
    # shellcheck disable=SC2016 # a JavaScript template string
    node -e 'const fs = require("fs");
        const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
        const b = JSON.parse(fs.readFileSync(process.argv[2], "utf8").split("\n")[0]);
        let i = 0;
        while (i < a.length && i < b.length && a[i] === b[i]) i++;
        console.log(i === a.length && i === b.length ? "same" :
            `nib ${a.length} ids, llama.cpp ${b.length}; first difference at index ${i}: ` +
            `nib ${JSON.stringify(a.slice(i, i + 5))}, llama.cpp ${JSON.stringify(b.slice(i, i + 5))}`);' "$1" "$2"
}

# Measures llama.cpp on one vocab; prints "LINES|word times|corpus times|json times|same".
bench_ref() {
    local name=$1 vocab=$2 c1 w1 lines i word_t="" corpus_t="" json_t=""
    local ids=$WORK/ref-$name.ids input=$WORK/corpus-$name.jsonl
    ref_run "$vocab" "$WORK/word.jsonl" /dev/null >/dev/null # warm-up: binaries into the page cache
    c1=$(ref_run "$vocab" "$WORK/corpus-1.jsonl" "$ids")
    w1=$(ref_run "$vocab" "$WORK/word.jsonl" /dev/null)
    lines=${LINES:-$(awk -v c="${c1#*,}" -v w="${w1#*,}" -v t="$REF_TARGET_S" -v m="$MAX_LINES" \
        'BEGIN { d = c - w; if (d < 0.02) d = 0.02; n = int(t / d + 0.999); print (n < 1 ? 1 : n > m ? m : n) }')}
    for ((i = 0; i < lines; i++)); do cat "$WORK/corpus-1.jsonl"; done >"$input"
    for ((i = 0; i < REPS; i++)); do
        word_t="$word_t $(ref_run "$vocab" "$WORK/word.jsonl" /dev/null)"
        corpus_t="$corpus_t $(ref_run "$vocab" "$input" "$WORK/ref-out.txt")"
    done
    for ((i = 0; i < REPS; i++)); do json_t="$json_t $(ref_json_work "$input" "$ids")"; done
    rm -f "$input" "$WORK/ref-out.txt"
    echo "$lines|$word_t|$corpus_t|$json_t|$(compare_ids "$WORK/nib-$name.ids" "$ids")"
}

# ------------------------------------------------------------------------------------------- runs
# share of all CPUs busy over one second (from /proc/stat), before the runs
cpu_busy_pct() {
    local a b
    a=$(head -n1 /proc/stat); sleep 1; b=$(head -n1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y)
        for (i = 2; i <= 9; i++) t += y[i] - x[i]; idle = y[5] - x[5] + y[6] - x[6]
        printf "%.0f", (t > 0 ? 100 * (t - idle) / t : 0) }'
}
BUSY_BEFORE=$(cpu_busy_pct)
[ "$BUSY_BEFORE" -le 10 ] ||
    warn "the CPUs were $BUSY_BEFORE% busy before the runs: other work on this machine makes the figures noisy and low"

# "busy own": CPU ticks used on the whole machine, and by this script's finished children
cpu_ticks() {
    awk -v s="$(head -n1 /proc/stat)" -v p="$(cat /proc/$$/stat)" 'BEGIN {
        split(s, x, " "); for (i = 2; i <= 9; i++) if (i != 5 && i != 6) b += x[i]
        sub(/.*\) /, "", p); split(p, f, " "); print b, f[14] + f[15] }'
}
# Percent of one CPU used by other processes since cpu_ticks gave $1 at time $2 (ns).
others_pct() {
    awk -v a="$1" -v b="$(cpu_ticks)" -v t0="$2" -v t1="$(now_ns)" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        split(a, x, " "); split(b, y, " "); w = (t1 - t0) / 1e9 * hz; o = (y[1] - x[1]) - (y[2] - x[2])
        printf "%.0f", (w > 0 && o > 0 ? 100 * o / w : 0) }'
}

: >"$WORK/llamaref.log"
ROWS=()
for name in $VOCABS; do
    vocab=$VOCAB_DIR/ggml-vocab-$name.gguf
    [ -f "$vocab" ] || { warn "$vocab missing: skipped"; continue; }
    echo "== $name" >&2
    res=$WORK/nib-$name.json
    snap=$(cpu_ticks) t0=$(now_ns)
    "$BENCH" -m "$vocab" -f "$CORPUS" -r "$NIB_REPS" -w 1 --json --dump-ids "$WORK/nib-$name.ids" >"$res"
    o_nib=$(others_pct "$snap" "$t0")
    ref="||||n/a" o_ref=""
    if [ "$HAVE_REF" = 1 ]; then
        snap=$(cpu_ticks) t0=$(now_ns)
        ref=$(bench_ref "$name" "$vocab")
        o_ref=$(others_pct "$snap" "$t0")
    fi
    ROWS+=("$name|$res|$ref|$o_nib|$o_ref")
done
[ ${#ROWS[@]} -gt 0 ] || die "no vocabulary found in $VOCAB_DIR"

# ---------------------------------------------------------------------------------------- summary
# Number in bench_tokenize's JSON (one key a line): jget FILE KEY [FIELD of {"mean", "sd", "best"}].
jget() { awk -v k="\"$2\":" -v f="${3:-}" '$1 == k {
    if (f == "") { v = $2; sub(/,$/, "", v); print v; exit }
    for (i = 2; i < NF; i++) if ($i == "{\"" f "\":" || $i == "\"" f "\":") { v = $(i + 1); gsub(/[,}]/, "", v); print v; exit } }' "$1"; }

# llama.cpp figures from the run times ("whole,tail" pairs, see ref_run). Per corpus run i, one
# tokenization of the corpus takes t_i = (tail_i - mean one-word tail - mean JSON work) / lines.
# Prints: MB/s mean, sd (over runs); s per tokenization and MB/s counting the JSON work (both from
# the mean run); then the JSON object, which also has the figure from whole runs (the issue's
# method: whole run less the mean whole one-word run, less the JSON work).
ref_stats() {
    awk -v lines="$1" -v wt="$2" -v ct="$3" -v jt="$4" -v b="$CORPUS_BYTES" -v n="$5" '
    function mean(a, k,   i, s) { for (i = 1; i <= k; i++) s += a[i]; return s / k }
    function sd(a, k,   i, m, d) { if (k < 2) return 0; m = mean(a, k)
        for (i = 1; i <= k; i++) d += (a[i] - m) ^ 2; return sqrt(d / (k - 1)) }
    function list(a, k,   i, s) { for (i = 1; i <= k; i++) s = s (i > 1 ? ", " : "") a[i]; return "[" s "]" }
    function pairs(str, whole, tail,   k, i, p, f) { k = split(str, p, " ")
        for (i = 1; i <= k; i++) { split(p[i], f, ","); whole[i] = f[1]; tail[i] = f[2] } return k }
    function rate(t) { return t > 0 ? b / t / 1e6 : 0 }
    BEGIN {
        nw = pairs(wt, ww, wl); nc = pairs(ct, cw, cl); nj = split(jt, j, " ")
        wm = mean(wl, nw); jm = mean(j, nj); wwm = mean(ww, nw)
        for (i = 1; i <= nc; i++) { r[i] = rate((cl[i] - wm - jm) / lines); rw[i] = rate((cw[i] - wwm - jm) / lines) }
        s = (mean(cl, nc) - wm - jm) / lines
        q = rate((mean(cl, nc) - wm) / lines)
        printf "%.4f %.4f %.6f %.4f ", mean(r, nc), sd(r, nc), s, q
        printf "{\"mb_per_s\": {\"mean\": %.4f, \"sd\": %.4f}, \"mb_per_s_counting_json_io\": %.4f, " \
               "\"mb_per_s_whole_runs\": {\"mean\": %.4f, \"sd\": %.4f}, " \
               "\"tokenize_s\": %.6f, \"ns_per_byte\": %.2f, \"ns_per_token\": %.2f, \"corpus_lines_per_run\": %d, " \
               "\"one_word_runs_s\": %s, \"one_word_tails_s\": %s, \"corpus_runs_s\": %s, \"corpus_tails_s\": %s, " \
               "\"json_io_runs_s\": %s}\n", mean(r, nc), sd(r, nc), q, mean(rw, nc), sd(rw, nc),
               s, s * 1e9 / b, s * 1e9 / n, lines, list(ww, nw), list(wl, nw), list(cw, nc), list(cl, nc), list(j, nj)
    }'
}

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff-index --quiet HEAD -- 2>/dev/null || COMMIT="$COMMIT+local changes"
REF_VERSION=$(sed -n 's/^\[llamaref\] llama.cpp: //p' "$WORK/llamaref.log" | head -n1)
[ -n "$OUT" ] || OUT=$ROOT/bench/results/tokenize-$(date +%Y-%m-%d-%H%M%S).json
mkdir -p "$(dirname "$OUT")"

TABLE="| vocab | tokens | nib MB/s | llama.cpp MB/s | ratio | nib load ms | goal |
|---|--:|--:|--:|--:|--:|---|"
NOTES="" JSON_ROWS=""
for row in "${ROWS[@]}"; do
    IFS='|' read -r name res lines word_t corpus_t json_t same o_nib o_ref <<<"$row"
    ntok=$(jget "$res" n_tokens)
    nib_m=$(jget "$res" tokenize_mb_per_s mean) nib_sd=$(jget "$res" tokenize_mb_per_s sd)
    busy=$(awk -v w="$(jget "$res" tokenize_ms mean)" -v c="$(jget "$res" tokenize_cpu_ms mean)" \
        'BEGIN { if (w > 1.1 * c) printf "%.0f", 100 * c / w }')
    load_m=$(jget "$res" open_load_ms mean) load_sd=$(jget "$res" open_load_ms sd)
    note="$name: nib $(printf '%.1f ns/byte, %.0f ns/token' "$(jget "$res" ns_per_byte)" "$(jget "$res" ns_per_token)")"
    ratio="" ref_cell="n/a" ratio_cell="n/a" ref_json=null
    if [ -n "$lines" ]; then
        read -r rm rsd rs rq ref_json <<<"$(ref_stats "$lines" "$word_t" "$corpus_t" "$json_t" "$ntok")"
        ratio=$(awk -v a="$nib_m" -v b="$rm" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
        ref_cell=$(printf '%.2f ± %.2f' "$rm" "$rsd") ratio_cell="$ratio×"
        note="$note; llama.cpp $(awk -v s="$rs" -v b="$CORPUS_BYTES" -v n="$ntok" -v q="$rq" -v l="$lines" \
            'BEGIN { printf "%.1f ns/byte, %.0f ns/token (%d lines a run; %.2f MB/s counting llamaref'"'"'s JSON I/O)", \
                     s * 1e9 / b, s * 1e9 / n, l, q }')"
    fi
    miss=""
    [ -n "$ratio" ] && awk -v r="$ratio" 'BEGIN { exit !(r < 5) }' && miss="ratio < 5×"
    awk -v l="$load_m" 'BEGIN { exit !(l >= 100) }' && miss="${miss:+$miss, }load ≥ 100 ms"
    if [ -n "$miss" ]; then goal="MISSED: $miss"; elif [ -n "$ratio" ]; then goal="met"; else goal="load met"; fi
    match=null tok_cell=$ntok
    case "$same" in
        same) match=true ;;
        n/a) ;;
        *) match=false tok_cell="$ntok (ids DIFFER)"; note="$note
WARNING: $name: nib and llama.cpp ids differ: $same" ;;
    esac
    TABLE="$TABLE
| $name | $tok_cell | $(printf '%.2f ± %.2f' "$nib_m" "$nib_sd") | $ref_cell | $ratio_cell | $(printf '%.1f ± %.1f' "$load_m" "$load_sd") | $goal |"
    [ -z "$busy" ] || note="$note
WARNING: $name: nib's thread ran only $busy% of the wall time (CPU time / wall time): the machine is busy"
    [ "$o_nib" -le 10 ] || note="$note
WARNING: $name: other processes used $o_nib% of a CPU during nib's runs: figures are noisy"
    [ -z "$o_ref" ] || [ "$o_ref" -le 10 ] || note="$note
WARNING: $name: other processes used $o_ref% of a CPU during llama.cpp's runs: figures are noisy"
    NOTES="$NOTES
$note"
    JSON_ROWS="$JSON_ROWS${JSON_ROWS:+,
}    {\"vocab\": \"$name\", \"ids_match\": $match, \"ratio\": ${ratio:-null}, \"goal\": \"$goal\",
     \"others_cpu_pct\": {\"nib\": $o_nib, \"llama_cpp\": ${o_ref:-null}},
     \"llama_cpp\": $ref_json,
     \"nib\": $(sed 's/^/     /; 1s/^ *//' "$res")}"
done

{
    echo "$TABLE"
    echo
    echo "machine: $CPU | cores used: 1 (of $(nproc)) | $(uname -sr) | nib $COMMIT | llama.cpp ${REF_VERSION:-n/a}, through llamaref"
    echo "corpus: $CORPUS_BYTES bytes of English (Debian 12 licenses and Essential packages' copyright files), sha256 ${CORPUS_SHA:0:16}"
    echo "MB = 10^6 bytes. nib: $NIB_REPS tokenize calls; load = gguf open + vocab load. llama.cpp: $([ "$HAVE_REF" = 1 ] &&
        echo "$REPS llamaref runs from the end of start-up, less a one-word run and llamaref's JSON I/O" || echo "not run"). Goal: ≥ 5× llama.cpp, load < 100 ms."
    echo "cost per byte and per token (mean):${NOTES}"
} | tee "$WORK/table.md"

cat >"$OUT" <<EOF
{
  "bench": "tokenize",
  "date": "$(date +%Y-%m-%dT%H:%M:%S%z)",
  "machine": {"cpu": "$CPU", "cores_used": 1, "n_cpus": $(nproc), "kernel": "$(uname -sr)", "cpu_busy_before_pct": $BUSY_BEFORE},
  "nib_commit": "$COMMIT",
  "llama_cpp": $([ -n "$REF_VERSION" ] && echo "\"${REF_VERSION//\"/\\\"}\"" || echo null),
  "corpus": {"bytes": $CORPUS_BYTES, "sha256": "$CORPUS_SHA", "recipe": "bench/tokenize.sh build_corpus"},
  "nib_reps": $NIB_REPS, "llama_cpp_reps": $REPS,
  "goal": {"min_ratio": 5, "max_load_ms": 100},
  "results": [
$JSON_ROWS
  ]
}
EOF
echo "results: $OUT" >&2
exit
}
