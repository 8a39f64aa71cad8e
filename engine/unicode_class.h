/*
 * unicode_class.h — the character class of a code point (letter, number,
 * punctuation, mark, symbol, other) as llama.cpp's tables define it, for the
 * pre-tokenizer. Immutable data; thread-safe.
 */
#ifndef NIB_UNICODE_CLASS_H
#define NIB_UNICODE_CLASS_H

#include <stdint.h>

/*
 * llama.cpp runs a regex that names a Unicode category (\p{L}, \p{N}, \p{P},
 * \p{M}, \p{S}, \p{Lu}, ...) on a "collapsed" text in which every non-ASCII
 * code point is one stand-in per class, taken from its own tables; its custom
 * splitters for the common regexes read the same tables. So its words follow
 * those tables (Unicode 15.1), not the regex engine's, and nib does the same:
 * the classes below are llama.cpp's (src/unicode-data.cpp at de3ff81,
 * `unicode_ranges_flags`: flags & 0xff = 0x04 letter, 0x02 number, 0x20
 * punctuation, 0x10 mark, 0x40 symbol, anything else other; adjacent ranges of
 * one class merged). Without this, characters new in Unicode 15 (U+1FA77 pink
 * heart, CJK extension H, Kawi, Nag Mundari digits) split differently with a
 * PCRE2 that knows Unicode 14, and nib's words would depend on the PCRE2
 * version installed.
 */
enum nib_char_class { NIB_CC_OTHER, NIB_CC_LETTER, NIB_CC_NUMBER, NIB_CC_PUNCT, NIB_CC_MARK, NIB_CC_SYMBOL };

enum nib_char_class nib_char_class(uint32_t cp);

#endif
