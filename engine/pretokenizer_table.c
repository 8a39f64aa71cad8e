/*
 * pretokenizer_table.c — which regexes split the text for each
 * `tokenizer.ggml.pre` value, and the per-name flags, as llama.cpp's
 * vocabulary loader assigns them (llama.cpp de3ff81, src/llama-vocab.cpp).
 *
 * The regex strings are llama.cpp's (its adapted forms: case-insensitive
 * groups spelled out, Unicode sub-categories as llama.cpp matches them).
 * Names whose splitting llama.cpp does with hand-written code that has no
 * regex equivalent (kimi-k2, afmoe, tiny_aya) or that are not byte-level
 * (gemma4, sarvam-moe, whitespace) are not listed: loading them is an error.
 */
#include "pretokenizer.h"

#include <stdio.h>
#include <string.h>

static const char *const RE_LLAMA3[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_JAIS2[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}",
    NULL,
};
static const char *const RE_DEEPSEEK_LLM[] = {
    "[\r\n]",
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
    NULL,
};
static const char *const RE_DEEPSEEK3_LLM[] = {
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_SPARK2_5[] = {
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+",
    "\\p{N}",
    NULL,
};
static const char *const RE_YOUTU[] = {
    "[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_DEEPSEEK_CODER[] = {
    "[\r\n]",
    "\\s?\\p{L}+",
    "\\s?\\p{P}+",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}",
    NULL,
};
static const char *const RE_FALCON[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|`]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "[0-9][0-9][0-9]",
    NULL,
};
static const char *const RE_STARCODER[] = {
    "\\p{N}",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    NULL,
};
static const char *const RE_GPT2[] = {
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    NULL,
};
static const char *const RE_QWEN2[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_QWEN35[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_PORO[] = {
    " ?[^(\\s|.,!?…。，、।۔،)]+",
    NULL,
};
static const char *const RE_VIKING[] = {
    " ?[^(\\s|.,!?…。，、।۔،)]+",
    "\\p{N}",
    NULL,
};
static const char *const RE_TEKKEN[] = {
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_CHAMELEON[] = {
    "<sentinel:[0-9]+>",
    "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
    "([\\t\\n]|    |  )",
    "\\p{N}",
    "[\\p{P}!-/:-@\\[-`{-~]",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    NULL,
};
static const char *const RE_GPT4O[] = {
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_GRANITE_EMB_MULTI[] = {
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_SUPERBPE[] = {
    "\\p{N}+",
    "(?=(\\d{3})+(?!\\d))",
    NULL,
};
static const char *const RE_BAILINGMOE[] = {
    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_SEED_CODER[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_UFAKZEKA[] = {
    "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_LAGUNA[] = {
    "[^\\n]+|[\\n]+",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_EXAONE_MOE[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_MINICPM5[] = {
    "\\p{N}{1,3}",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL,
};
static const char *const RE_DEFAULT[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
    NULL,
};

/* name, regexes, clean_spaces, ignore_merges, add_bos, no_bos_token */
static const struct nib_pre_spec specs[] = {
    { "default", RE_DEFAULT, true, false, false, false },
    { "llama3", RE_LLAMA3, true, true, true, false },
    { "llama-v3", RE_LLAMA3, true, true, true, false },
    { "llama-bpe", RE_LLAMA3, true, true, true, false },
    { "falcon3", RE_LLAMA3, true, true, true, false },
    { "falcon-h1", RE_LLAMA3, true, true, true, false },
    { "pixtral", RE_LLAMA3, true, true, true, false },
    { "midm-2.0", RE_LLAMA3, true, true, true, false },
    { "lfm2", RE_LLAMA3, true, true, true, false },
    { "jina-v5-nano", RE_LLAMA3, true, true, true, false },
    { "deepseek-llm", RE_DEEPSEEK_LLM, false, false, false, false },
    { "deepseek-coder", RE_DEEPSEEK_CODER, false, false, false, false },
    { "deepseek-v3", RE_DEEPSEEK3_LLM, false, false, false, false },
    { "spark2_5", RE_SPARK2_5, false, false, false, false },
    { "youtu", RE_YOUTU, false, true, false, false },
    { "falcon", RE_FALCON, true, false, false, false },
    { "mpt", RE_GPT2, true, false, false, false },
    { "starcoder", RE_STARCODER, true, false, false, false },
    { "gpt-2", RE_GPT2, true, false, false, false },
    { "phi-2", RE_GPT2, true, false, false, false },
    { "jina-es", RE_GPT2, true, false, false, false },
    { "jina-de", RE_GPT2, true, false, false, false },
    { "gigachat", RE_GPT2, true, false, false, false },
    { "jina-v2-es", RE_GPT2, true, false, false, false },
    { "jina-v2-de", RE_GPT2, true, false, false, false },
    { "a.x-4.0", RE_GPT2, true, false, false, false },
    { "mellum", RE_GPT2, true, false, false, false },
    { "modern-bert", RE_GPT2, true, false, false, false },
    { "jais-2", RE_JAIS2, true, false, false, false },
    { "jina-v1-en", RE_GPT2, true, false, false, false },
    { "jina-v2-code", RE_GPT2, true, false, false, false },
    { "roberta-bpe", RE_GPT2, true, false, false, false },
    { "refact", RE_STARCODER, true, false, false, false },
    { "command-r", RE_STARCODER, false, false, false, false },
    { "qwen2", RE_QWEN2, false, false, false, false },
    { "deepseek-r1-qwen", RE_QWEN2, false, false, false, false },
    { "kormo", RE_QWEN2, false, false, false, false },
    { "f2llmv2", RE_QWEN2, false, false, false, false },
    { "qwen35", RE_QWEN35, false, false, false, false },
    { "stablelm2", RE_QWEN2, true, false, false, false },
    { "olmo", RE_GPT2, true, false, false, false },
    { "dbrx", RE_LLAMA3, true, false, false, false },
    { "smaug-bpe", RE_LLAMA3, true, false, false, false },
    { "poro-chat", RE_PORO, false, false, false, false },
    { "glm4", RE_LLAMA3, true, false, false, true },
    { "chatglm-bpe", RE_LLAMA3, true, false, false, true },
    { "viking", RE_VIKING, false, false, false, false },
    { "jais", RE_GPT2, true, false, false, false },
    { "tekken", RE_TEKKEN, false, true, true, false },
    { "smollm", RE_STARCODER, false, false, false, false },
    { "codeshell", RE_STARCODER, true, false, false, false },
    { "bloom", RE_PORO, true, false, false, false },
    { "gpt3-finnish", RE_PORO, true, false, false, false },
    { "exaone", RE_STARCODER, true, false, false, false },
    { "exaone4", RE_GPT2, true, false, false, false },
    { "exaone-moe", RE_EXAONE_MOE, true, false, false, false },
    { "chameleon", RE_CHAMELEON, false, false, true, false },
    { "minerva-7b", RE_STARCODER, true, false, false, false },
    { "megrez", RE_QWEN2, true, false, false, false },
    { "gpt-4o", RE_GPT4O, false, false, false, false },
    { "llama4", RE_GPT4O, false, false, false, false },
    { "kanana2", RE_GPT4O, false, false, false, false },
    { "talkie", RE_GPT4O, false, false, false, false },
    { "granite-embed-multi-97m", RE_GRANITE_EMB_MULTI, false, true, false, false },
    { "trillion", RE_GPT2, false, false, false, false },
    { "granite-docling", RE_GPT2, false, false, false, false },
    { "bailingmoe", RE_BAILINGMOE, false, false, false, false },
    { "bailingmoe2", RE_BAILINGMOE, false, false, false, false },
    { "llada-moe", RE_BAILINGMOE, false, false, false, false },
    { "seed-coder", RE_SEED_CODER, false, false, false, false },
    { "hunyuan", RE_QWEN2, false, false, false, false },
    { "hunyuan-dense", RE_DEEPSEEK3_LLM, false, false, false, false },
    { "hy_v4", RE_DEEPSEEK3_LLM, false, false, false, false },
    { "joyai-llm", RE_DEEPSEEK3_LLM, false, false, false, false },
    { "ufakzeka", RE_UFAKZEKA, false, false, false, false },
    { "grok-2", RE_QWEN2, false, false, false, false },
    { "laguna", RE_LAGUNA, false, false, false, false },
    { "minimax-m2", RE_GPT4O, false, false, false, false },
    { "solar-open", RE_QWEN2, false, false, false, false },
    { "mellum2", RE_STARCODER, true, false, false, false },
    { "minicpm5", RE_MINICPM5, true, true, false, false },
    { "superbpe", RE_SUPERBPE, false, false, false, false },
};

const struct nib_pre_spec *nib_pre_spec_find(const char *name) {
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        if (strcmp(specs[i].name, name) == 0) return &specs[i];
    return NULL;
}

void nib_pre_spec_list(char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]) && n < cap; i++) {
        int k = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", specs[i].name);
        if (k < 0) break;
        n += (size_t)k;
    }
}
