#!/usr/bin/env bash
# gen-tokenizer-golden.sh — regenerate tests/data/tokenizer/{pre,vocab}-*.json,
# llama.cpp's token ids for every string of tests/data/tokenizer/strings.jsonl,
# which tests/test_tokenizer_pretypes.cc compares nib with:
#
#  - pre-NAME.json: the llama-bpe vocabulary with `tokenizer.ggml.pre` set to
#    NAME (a vocabulary-only copy made in a temp dir by scripts/gguf-set-pre.c),
#    no BOS, special-token text parsed and not; plus one text with BOS/EOS as
#    llama.cpp adds them for NAME (layout at write_json below);
#  - vocab-NAME.json: each real vocabulary in ../shared/models/vocab, BOS/EOS
#    as the file says with special text parsed ("default"), and no BOS with
#    special text not parsed ("no_bos_no_special").
#
# A developer tool, never run by CI: it needs node and llamaref (llama.cpp as
# a reference, ../shared/ref/README.md) and a built tree (build/libnib.a).
# Names llama.cpp refuses to load are reported and get no file.
#
#   scripts/gen-tokenizer-golden.sh [NAME...]      (default: every name below)
#
# Environment: NIB_SHARED_DIR (default <repo>/../shared), LLAMAREF (default
# $NIB_SHARED_DIR/ref/llamaref.mjs), BUILD_DIR (default <repo>/build).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${NIB_SHARED_DIR:-$REPO/../shared}
LLAMAREF=${LLAMAREF:-$SHARED/ref/llamaref.mjs}
BUILD_DIR=${BUILD_DIR:-$REPO/build}
DATA=$REPO/tests/data/tokenizer
STRINGS=$DATA/strings.jsonl
BASE=$SHARED/models/vocab/ggml-vocab-llama-bpe.gguf

# Every byte-level BPE name of engine/pretokenizer_table.c that llama.cpp
# knows; aliases are listed too because llama.cpp sets flags per name. The
# first name of a set that tokenizes alike holds the ids (the others say
# "same_as"), so the best-known names come first.
NAMES=(
  default gpt-2 llama-bpe qwen2 qwen35 deepseek-llm deepseek-coder deepseek-v3 falcon mpt starcoder
  refact command-r smollm codeshell stablelm2 olmo dbrx smaug-bpe poro-chat bloom chatglm-bpe viking
  jais tekken exaone chameleon minerva-7b gpt-4o llama4 seed-coder bailingmoe trillion grok-2 hunyuan
  exaone-moe ufakzeka laguna minicpm5 youtu spark2_5 jais-2 superbpe granite-embed-multi-97m
  llama3 llama-v3 falcon3 falcon-h1 pixtral midm-2.0 lfm2 jina-v5-nano phi-2 jina-es jina-de gigachat
  jina-v2-es jina-v2-de a.x-4.0 mellum modern-bert jina-v1-en jina-v2-code roberta-bpe
  deepseek-r1-qwen kormo f2llmv2 glm4 gpt3-finnish exaone4 megrez kanana2 talkie granite-docling
  bailingmoe2 llada-moe hunyuan-dense hy_v4 joyai-llm minimax-m2 solar-open mellum2
)
HELLO='Hello world'  # also tokenized with BOS/EOS as each name makes llama.cpp add them

die() { echo "gen-tokenizer-golden: $*" >&2; exit 1; }
command -v node >/dev/null || die "node not found"
[[ -f $LLAMAREF ]] || die "llamaref not found at $LLAMAREF (set LLAMAREF)"
[[ -f $BASE ]] || die "missing $BASE (set NIB_SHARED_DIR)"
[[ -f $BUILD_DIR/libnib.a ]] || die "build the tree first: cmake --build $BUILD_DIR"
[[ -f $STRINGS ]] || die "missing $STRINGS"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

read -ra PCRE_LIBS <<<"$(pkg-config --libs libpcre2-8)"
cc -std=c11 -O2 -Wall -Wextra -I"$REPO/include" "$REPO/scripts/gguf-set-pre.c" "$BUILD_DIR/libnib.a" \
   "${PCRE_LIBS[@]}" -lm -o "$TMP/gguf-set-pre"

# tokenize MODEL INPUT OUT [llamaref flags...]: one JSON array per line of INPUT
tokenize() {
  local model=$1 input=$2 out=$3
  shift 3
  node "$LLAMAREF" tokenize -m "$model" --batch "$input" "$@" >"$out" 2>"$out.log" || return 1
  [[ $(wc -l <"$out") -eq $(wc -l <"$input") ]] || { echo "line count differs" >>"$out.log"; return 1; }
}

# Writes pre-NAME.json for the names given, from $TMP/out/NAME.* (one array
# per line): {"pre": NAME, "add_special": {"text": T, "ids": [...]},
# "no_special": [ids per string], "special_diff": {"i": ids, ...}}.
# add_special is T tokenized with BOS/EOS as llama.cpp adds them for NAME;
# special_diff lists only the strings whose ids change when special-token text
# is parsed. Or {"pre": NAME, "same_as": OTHER} when llama.cpp gave exactly
# OTHER's ids in all three settings (aliases).
# Then vocab-NAME.json from $TMP/vocab/NAME.{def,nsp}: {"vocab": FILE,
# "default": [...], "no_bos_no_special": [...]}. One array per line, so a
# change shows as a one-line diff.
write_json() {
  # shellcheck disable=SC2016  # the ${...} are JavaScript's
  node -e '
    const fs = require("fs");
    const [tmp, outdir, hello_text, ...names] = process.argv.slice(1);
    const rows = (f) => fs.readFileSync(f, "utf8").split("\n").filter((l) => l !== "")
                          .map((l) => JSON.stringify(JSON.parse(l)));
    const list = (r) => "[\n" + r.join(",\n") + "\n]";
    const seen = new Map();
    for (const name of names) {
      const sp = rows(`${tmp}/out/${name}.sp`), nsp = rows(`${tmp}/out/${name}.nsp`);
      const hello = rows(`${tmp}/out/${name}.hello`)[0];
      const key = [hello, ...sp, "", ...nsp].join("\n");
      let text = `{"pre":${JSON.stringify(name)},`;
      if (seen.has(key)) {
        text += `"same_as":${JSON.stringify(seen.get(key))}}\n`;
      } else {
        seen.set(key, name);
        const diff = sp.map((r, i) => (r === nsp[i] ? null : `"${i}":${r}`)).filter((x) => x);
        text += `\n"add_special":{"text":${JSON.stringify(hello_text)},"ids":${hello}},\n` +
                `"no_special":${list(nsp)},\n"special_diff":{\n${diff.join(",\n")}\n}}\n`;
      }
      fs.writeFileSync(`${outdir}/pre-${name}.json`, text);
    }
    const vocabs = fs.existsSync(`${tmp}/vocab`) ? fs.readdirSync(`${tmp}/vocab`) : [];
    for (const f of vocabs.filter((f) => f.endsWith(".def"))) {
      const name = f.slice(0, -4);
      fs.writeFileSync(`${outdir}/vocab-${name}.json`,
        `{"vocab":${JSON.stringify("ggml-vocab-" + name + ".gguf")},\n` +
        `"default":${list(rows(`${tmp}/vocab/${name}.def`))},\n` +
        `"no_bos_no_special":${list(rows(`${tmp}/vocab/${name}.nsp`))}}\n`);
    }
  ' "$TMP" "$DATA" "$HELLO" "$@"
}

gen_pre() {
  local name=$1 gguf=$TMP/pre.gguf
  "$TMP/gguf-set-pre" "$BASE" "$gguf" "$name" || return 1
  tokenize "$gguf" "$STRINGS" "$TMP/out/$name.sp" --no-bos || return 1
  tokenize "$gguf" "$STRINGS" "$TMP/out/$name.nsp" --no-bos --no-special || return 1
  tokenize "$gguf" "$TMP/hello.jsonl" "$TMP/out/$name.hello" || return 1
}

gen_vocab() {
  local gguf=$1 name
  name=$(basename "$gguf" .gguf)
  name=${name#ggml-vocab-}
  tokenize "$gguf" "$STRINGS" "$TMP/vocab/$name.def" || return 1
  tokenize "$gguf" "$STRINGS" "$TMP/vocab/$name.nsp" --no-bos --no-special || return 1
}

# With names on the command line only those are regenerated (and no vocab-*):
# for debugging; regenerate everything before committing so that same_as
# references stay consistent.
(($# > 0)) && NAMES=("$@")
mkdir -p "$TMP/out" "$TMP/vocab"
node -e 'console.log(JSON.stringify(process.argv[1]))' "$HELLO" >"$TMP/hello.jsonl"
verified=() refused=()
for name in "${NAMES[@]}"; do
  if gen_pre "$name"; then
    verified+=("$name")
  else
    refused+=("$name")
    rm -f "$DATA/pre-$name.json"
    echo "llama.cpp refused '$name': $(grep -hi "error\|fail\|unknown" "$TMP"/out/*.log | head -1)" >&2
  fi
  rm -f "$TMP"/out/*.log
done
if (($# == 0)); then
  for gguf in "$SHARED"/models/vocab/*.gguf; do
    gen_vocab "$gguf" || die "llamaref failed on $gguf: $(tail -3 "$TMP"/vocab/*.log)"
  done
fi
write_json "${verified[@]}"
echo "${#verified[@]} names: ${verified[*]}"
((${#refused[@]} == 0)) || echo "not verified (llama.cpp refused): ${refused[*]}" >&2
du -sh "$DATA"
