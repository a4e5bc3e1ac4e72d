#include "bleu.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "threads.h"

namespace seqcore {

namespace {

using u8 = std::uint8_t;
using u64 = std::uint64_t;

// ---------------------------------------------------------------- characters

// Byte length of the Python whitespace character (str.isspace) that starts at p, or 0.
inline int space_len(const u8* p, const u8* end) {
    const u8 b = p[0];
    if (b < 0x80) return ((b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x20)) ? 1 : 0;
    const index_t left = end - p;
    if (b == 0xC2) return left >= 2 && (p[1] == 0x85 || p[1] == 0xA0) ? 2 : 0;
    if (left < 3) return 0;
    if (b == 0xE1) return p[1] == 0x9A && p[2] == 0x80 ? 3 : 0;
    if (b == 0xE2) {
        if (p[1] == 0x80) {
            const u8 c = p[2];
            return (c >= 0x80 && c <= 0x8A) || c == 0xA8 || c == 0xA9 || c == 0xAF ? 3 : 0;
        }
        return p[1] == 0x81 && p[2] == 0x9F ? 3 : 0;
    }
    if (b == 0xE3) return p[1] == 0x80 && p[2] == 0x80 ? 3 : 0;
    return 0;
}

// Length of text[0, n) without its trailing whitespace (str.rstrip()).  A whitespace character's
// first byte is never a UTF-8 continuation byte, so the last 1-3 bytes decide on their own.
index_t rstrip_len(const u8* p, index_t n) {
    for (;;) {
        if (n >= 1 && space_len(p + n - 1, p + n) == 1) {
            n -= 1;
        } else if (n >= 2 && space_len(p + n - 2, p + n) == 2) {
            n -= 2;
        } else if (n >= 3 && space_len(p + n - 3, p + n) == 3) {
            n -= 3;
        } else {
            return n;
        }
    }
}

inline bool is_digit(u8 c) { return c >= '0' && c <= '9'; }
inline bool is_point(u8 c) { return c == '.' || c == ','; }

// How the final split sees a byte: part of a token, ASCII whitespace, an ASCII symbol that is a
// token of its own (13a only), or the first byte of a possible multi-byte whitespace character.
enum ByteClass : u8 { kWord, kSpace, kSymbol, kHigh };

// mteval-v13a's first rule pads every printable ASCII character that is not a letter, a digit,
// ' , - or . with spaces.  Those spaces only separate tokens: the later rules look at a point's or
// hyphen's neighbours only to ask "digit? point?", and a symbol answers no to both, as the space
// that would replace it does.  So the rule is applied last, by the split, which makes each symbol
// a token of its own.
struct ByteClasses {
    ByteClass plain[256], symbols[256];
    ByteClasses() {
        for (int c = 0; c < 256; ++c) {
            const u8 b = static_cast<u8>(c);
            ByteClass k = b >= 0x80 ? kHigh : kWord;
            if (b < 0x80 && space_len(&b, &b + 1)) k = kSpace;
            plain[c] = k;
            const bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
            const bool symbol = c > 0x20 && c < 0x7F && !alnum && c != '\'' && c != ',' && c != '-' && c != '.';
            symbols[c] = symbol ? kSymbol : k;
        }
    }
};
const ByteClasses kClasses;

// A growable byte buffer whose new bytes are not initialised (every pass writes before it reads).
struct Buffer {
    std::unique_ptr<u8[]> data;
    size_t capacity = 0;
    index_t size = 0;  // bytes in use (kept when the buffer grows)

    u8* reserve(index_t n) {
        const size_t want = static_cast<size_t>(std::max<index_t>(n, 1));
        if (want > capacity) {
            const size_t cap = std::max<size_t>(want, 2 * capacity);
            std::unique_ptr<u8[]> grown(new u8[cap]);
            if (size > 0) std::memcpy(grown.get(), data.get(), static_cast<size_t>(size));
            data = std::move(grown);
            capacity = cap;
        }
        return data.get();
    }
};

// The first index >= i of a '.' or ',' in s[0, n), or n.  Eight bytes at a time: most text has a
// point every few dozen bytes.
inline index_t find_point(const u8* s, index_t i, index_t n) {
    constexpr u64 ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    for (; i + 8 <= n; i += 8) {
        u64 w;
        std::memcpy(&w, s + i, 8);
        const u64 a = w ^ (ones * '.'), b = w ^ (ones * ',');
        // a zero byte in a or b: the classic "has a zero byte" test, exact for the first one found
        const u64 hit = ((a - ones) & ~a & highs) | ((b - ones) & ~b & highs);
        if (hit) break;
    }
    while (i < n && !is_point(s[i])) ++i;
    return i;
}

// ---------------------------------------------------------------- the 13a passes
//
// Each pass reads text[0, n) and writes its result to out, returning the new length.  They run
// in sacrebleu's order; each regular-expression rule is one left-to-right pass that, like
// re.sub, never starts a match inside the previous one.  The line is taken as padded with a
// space at both ends (f" {line} "), without writing them: the rules see a space there.

// str.replace(pattern, repl): leftmost, non-overlapping, one pass.
index_t replace_all(const u8* s, index_t n, const char* pattern, const char* repl, Buffer& out) {
    const index_t m = static_cast<index_t>(std::strlen(pattern)), r = static_cast<index_t>(std::strlen(repl));
    u8* o = out.reserve(n);  // no replacement here is longer than its pattern
    index_t k = 0;
    for (index_t i = 0; i < n;) {
        if (s[i] == static_cast<u8>(pattern[0]) && i + m <= n && std::memcmp(s + i, pattern, m) == 0) {
            std::memcpy(o + k, repl, r);
            k += r;
            i += m;
        } else {
            o[k++] = s[i++];
        }
    }
    return k;
}

// .replace('-\n', '') then .replace('\n', ' ') in one pass: the second only maps the newlines
// the first left, whichever they are, so fusing them changes nothing.
index_t join_lines(const u8* s, index_t n, Buffer& out) {
    u8* o = out.reserve(n);
    index_t k = 0;
    for (index_t i = 0; i < n; ++i) {
        if (s[i] == '-' && i + 1 < n && s[i + 1] == '\n') {
            ++i;
        } else {
            o[k++] = s[i] == '\n' ? u8(' ') : s[i];
        }
    }
    return k;
}

// ([^0-9])([.,]) -> "\1 \2 ": a point after a non-digit that the previous match did not take.
index_t split_point_after(const u8* s, index_t n, Buffer& out) {
    u8* o = out.reserve(2 * n + 2);  // a match every other byte at most, each adding two spaces
    index_t k = 0, last = -2;  // the point the previous match took
    for (index_t i = 0; i < n;) {
        const index_t j = find_point(s, i, n);
        std::memcpy(o + k, s + i, static_cast<size_t>(j - i));
        k += j - i;
        if (j == n) break;
        // before s[0] stands the padding space: a non-digit nothing took
        if ((j == 0 || !is_digit(s[j - 1])) && last != j - 1) {
            o[k++] = ' ';
            o[k++] = s[j];
            o[k++] = ' ';
            last = j;
        } else {
            o[k++] = s[j];
        }
        i = j + 1;
    }
    return k;
}

// ([.,])([^0-9]) -> " \1 \2": a point before a non-digit (the padding space after the end is one),
// unless the previous match took it as its \2.
index_t split_point_before(const u8* s, index_t n, Buffer& out) {
    u8* o = out.reserve(2 * n + 2);  // a match every other byte at most, each adding two spaces
    index_t k = 0, taken = -1;  // the character the previous match took as \2
    for (index_t i = 0; i < n;) {
        const index_t j = find_point(s, i, n);
        std::memcpy(o + k, s + i, static_cast<size_t>(j - i));
        k += j - i;
        if (j == n) break;
        if ((j + 1 == n || !is_digit(s[j + 1])) && taken != j) {
            o[k++] = ' ';
            o[k++] = s[j];
            o[k++] = ' ';
            taken = j + 1;  // \2 is copied as it is, by the next round
        } else {
            o[k++] = s[j];
        }
        i = j + 1;
    }
    return k;
}

// ([0-9])(-) -> "\1 \2 " (a match takes a digit and a hyphen, so no match can start in another).
index_t split_dash_after_digit(const u8* s, index_t n, Buffer& out) {
    u8* o = out.reserve(2 * n + 2);  // a match every other byte at most, each adding two spaces
    index_t k = 0;
    for (index_t i = 0; i < n;) {
        const u8* hit = static_cast<const u8*>(std::memchr(s + i, '-', static_cast<size_t>(n - i)));
        const index_t j = hit ? hit - s : n;
        std::memcpy(o + k, s + i, static_cast<size_t>(j - i));
        k += j - i;
        if (j == n) break;
        if (j > 0 && is_digit(s[j - 1])) {
            o[k++] = ' ';
            o[k++] = '-';
            o[k++] = ' ';
        } else {
            o[k++] = '-';
        }
        i = j + 1;
    }
    return k;
}

// Two buffers the passes alternate between.
struct PingPong {
    Buffer a, b;
    const u8* text = nullptr;
    index_t n = 0;

    template <typename Pass, typename... Args>
    void run(Pass pass, Args... args) {
        Buffer& out = text == a.data.get() ? b : a;
        n = pass(text, n, args..., out);
        text = out.data.get();
    }
};

// ---------------------------------------------------------------- hashing

inline u64 fmix64(u64 x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

// Token bytes are read 8 at a time: the words buffer keeps kSlack readable bytes past its end, and
// the bytes past a token are masked off.
constexpr index_t kSlack = 8;

inline u64 load8(const u8* p) {
    u64 w;
    std::memcpy(&w, p, 8);
    return w;
}

// The 8 bytes at p with all but the first n (0 < n < 8) zeroed.
inline u64 head(const u8* p, index_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return load8(p) & (~0ULL << (64 - 8 * n));
#else
    return load8(p) & (~0ULL >> (64 - 8 * n));
#endif
}

inline u64 hash_bytes(const u8* p, index_t n) {
    u64 h = 0x9E3779B97F4A7C15ULL ^ static_cast<u64>(n);
    for (; n >= 8; p += 8, n -= 8) {
        h = (h ^ load8(p)) * 0x87c37b91114253d5ULL;
        h = (h << 31) | (h >> 33);
    }
    return fmix64(h ^ (n ? head(p, n) : 0));
}

// Whether a[0, n) == b[0, n) (both with kSlack readable bytes after them).
inline bool same_bytes(const u8* a, const u8* b, index_t n) {
    for (; n >= 8; a += 8, b += 8, n -= 8)
        if (load8(a) != load8(b)) return false;
    return n == 0 || head(a, n) == head(b, n);
}

inline bool same_ids(const std::int32_t* a, const std::int32_t* b, index_t n) {
    for (index_t k = 0; k < n; ++k)
        if (a[k] != b[k]) return false;
    return true;
}

// The hash of an n-gram is folded over its token ids, so one pass from position i gives the
// hashes of the 1-, 2-, ... O-grams starting there.
inline u64 extend(u64 h, std::int32_t id) {
    h = (h + static_cast<u64>(static_cast<std::uint32_t>(id)) + 1) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

// log2 of the slots for a table of `entries` (at most half full).
inline size_t table_bits(index_t entries) {
    size_t bits = 4;
    while ((index_t(1) << bits) < 2 * entries) ++bits;
    return bits;
}

// The first 2**bits slots of table, grown when it has fewer; slots from earlier rows carry an
// older stamp, so nothing needs clearing.
template <typename Slot>
void ensure_slots(std::vector<Slot>& table, size_t bits) {
    if (table.size() < (size_t(1) << bits)) table.resize(size_t(1) << bits);
}

inline size_t slot_of(u64 h, size_t bits) { return static_cast<size_t>((h * 0x9E3779B97F4A7C15ULL) >> (64 - bits)); }

// ---------------------------------------------------------------- per-thread state

struct Token {
    index_t begin, len;  // into Scratch::words
};

struct TokenSlot {
    std::uint32_t stamp = 0;
    std::int32_t id;
    u64 hash;
    index_t begin, len;
};

struct NgramSlot {
    std::uint32_t stamp = 0;
    std::int32_t n;
    index_t start;  // into Scratch::ref_ids
    u64 hash;
    index_t max_count, count, last_ref, used;
};

// Aligned to a cache line: the threads' scratch structs sit side by side, and each writes its own
// sizes and stamp for every row.
struct alignas(64) Scratch {
    PingPong passes;
    Buffer words;  // the tokenised text of one hypothesis and its references
    std::vector<Token> tokens;
    std::vector<index_t> ref_first;  // token index where each reference starts (one more at the end)
    std::vector<std::int32_t> ref_ids, hyp_ids;
    std::vector<TokenSlot> token_table;
    std::vector<NgramSlot> ngram_table;
    std::uint32_t stamp = 0;

    // Appends the tokens of text[0, n) to words/tokens.
    void tokenize(const u8* text, index_t n, BleuTokenizer tokenizer) {
        const ByteClass* classes = kClasses.plain;
        if (tokenizer == BleuTokenizer::k13a) {
            classes = kClasses.symbols;
            PingPong& p = passes;
            p.text = text;
            p.n = rstrip_len(text, n);
            if (std::memchr(p.text, '<', p.n)) p.run(replace_all, "<skipped>", "");
            if (std::memchr(p.text, '\n', p.n)) p.run(join_lines);
            if (std::memchr(p.text, '&', p.n)) {
                p.run(replace_all, "&quot;", "\"");
                p.run(replace_all, "&amp;", "&");
                p.run(replace_all, "&lt;", "<");
                p.run(replace_all, "&gt;", ">");
            }
            if (find_point(p.text, 0, p.n) < p.n) {
                p.run(split_point_after);
                p.run(split_point_before);
            }
            if (std::memchr(p.text, '-', p.n)) p.run(split_dash_after_digit);
            text = p.text;
            n = p.n;
        }
        // the text goes into words whole (may move the buffer: tokens hold offsets, not pointers)
        const index_t base = words.size;
        u8* s = words.reserve(base + n + kSlack) + base;
        if (n > 0) std::memcpy(s, text, static_cast<size_t>(n));
        std::memset(s + n, 0, kSlack);  // read (and masked off) by hash_bytes and same_bytes
        words.size += n;
        const u8* end = s + n;
        index_t i = 0;
        while (i < n) {
            const ByteClass k = classes[s[i]];
            if (k == kSpace) {
                ++i;
                continue;
            }
            if (k == kSymbol) {
                tokens.push_back(Token{base + i, 1});
                ++i;
                continue;
            }
            if (k == kHigh) {
                const int sp = space_len(s + i, end);
                if (sp) {
                    i += sp;
                    continue;
                }
            }
            const index_t start = i++;
            while (i < n) {
                const ByteClass c = classes[s[i]];
                if (c == kWord || (c == kHigh && !space_len(s + i, end))) {
                    ++i;
                } else {
                    break;
                }
            }
            tokens.push_back(Token{base + start, i - start});
        }
    }

    void new_stamp() {
        if (++stamp == 0) {  // wrapped after 2**32 rows: forget every old entry
            for (auto& t : token_table) t.stamp = 0;
            for (auto& t : ngram_table) t.stamp = 0;
            stamp = 1;
        }
    }

    // One row of statistics for a hypothesis and its references.
    void count(const u8* hyp, index_t hyp_n, const u8* ref_text, const index_t* ref_offsets, index_t r0, index_t r1,
               index_t O, BleuTokenizer tokenizer, index_t* row) {
        words.size = 0;
        tokens.clear();
        ref_first.clear();
        tokenize(hyp, hyp_n, tokenizer);
        const index_t H = static_cast<index_t>(tokens.size());
        for (index_t r = r0; r < r1; ++r) {
            ref_first.push_back(static_cast<index_t>(tokens.size()));
            tokenize(ref_text + ref_offsets[r], ref_offsets[r + 1] - ref_offsets[r], tokenizer);
        }
        ref_first.push_back(static_cast<index_t>(tokens.size()));
        const index_t R = r1 - r0;
        index_t* matches = row + 2;
        index_t* totals = row + 2 + O;
        std::fill(row, row + 2 + 2 * O, index_t(0));
        row[0] = H;
        for (index_t n = 1; n <= std::min(O, H); ++n) totals[n - 1] = H - n + 1;
        if (R == 0) return;

        // closest reference length, the shorter on a tie
        index_t best = -1, best_diff = -1;
        for (index_t r = 0; r < R; ++r) {
            const index_t len = ref_first[r + 1] - ref_first[r];
            const index_t diff = len > H ? len - H : H - len;
            if (best_diff < 0 || diff < best_diff || (diff == best_diff && len < best)) {
                best = len;
                best_diff = diff;
            }
        }
        row[1] = best;
        const index_t ref_tokens = static_cast<index_t>(tokens.size()) - H;
        if (ref_tokens == 0 || H == 0) return;
        if (ref_tokens >= std::numeric_limits<std::int32_t>::max())  // ids are int32 (4 GiB of text at least)
            throw std::length_error("bleu_stats: the references of one hypothesis hold 2**31 tokens or more");
        new_stamp();
        const u8* wd = words.data.get();

        // token ids: each distinct reference token gets one; a hypothesis token no reference has gets -1
        const size_t bits = table_bits(ref_tokens);
        ensure_slots(token_table, bits);
        const size_t tmask = (size_t(1) << bits) - 1;
        auto find_token = [&](const Token& t, bool insert, std::int32_t next_id) -> std::int32_t {
            const u64 h = hash_bytes(wd + t.begin, t.len);
            for (size_t k = slot_of(h, bits);; k = (k + 1) & tmask) {
                TokenSlot& e = token_table[k];
                if (e.stamp != stamp) {
                    if (!insert) return -1;
                    e = TokenSlot{stamp, next_id, h, t.begin, t.len};
                    return next_id;
                }
                if (e.hash == h && e.len == t.len && same_bytes(wd + e.begin, wd + t.begin, t.len)) return e.id;
            }
        };
        ref_ids.resize(static_cast<size_t>(ref_tokens));
        std::int32_t next_id = 0;
        for (index_t j = 0; j < ref_tokens; ++j) {
            const std::int32_t id = find_token(tokens[H + j], true, next_id);
            if (id == next_id) ++next_id;
            ref_ids[j] = id;
        }
        hyp_ids.resize(static_cast<size_t>(H));
        for (index_t j = 0; j < H; ++j) hyp_ids[j] = find_token(tokens[j], false, 0);

        // reference n-grams, each with its largest count over the references
        index_t ngrams = 0;
        for (index_t r = 0; r < R; ++r) {
            const index_t L = ref_first[r + 1] - ref_first[r];
            for (index_t n = 1; n <= std::min(O, L); ++n) ngrams += L - n + 1;
        }
        const size_t nbits = table_bits(ngrams);
        ensure_slots(ngram_table, nbits);
        const size_t nmask = (size_t(1) << nbits) - 1;
        const std::int32_t* rid = ref_ids.data();
        for (index_t r = 0; r < R; ++r) {
            const index_t first = ref_first[r] - H, L = ref_first[r + 1] - ref_first[r];
            for (index_t i = 0; i < L; ++i) {
                u64 h = 0;
                const index_t top = std::min(O, L - i);
                for (index_t n = 1; n <= top; ++n) {
                    h = extend(h, rid[first + i + n - 1]);
                    for (size_t k = slot_of(h, nbits);; k = (k + 1) & nmask) {
                        NgramSlot& e = ngram_table[k];
                        if (e.stamp != stamp) {
                            e = NgramSlot{stamp, static_cast<std::int32_t>(n), first + i, h, 1, 1, r, 0};
                            break;
                        }
                        if (e.hash == h && e.n == n && same_ids(rid + e.start, rid + first + i, n)) {
                            if (e.last_ref != r) {
                                e.last_ref = r;
                                e.count = 0;
                            }
                            e.max_count = std::max(e.max_count, ++e.count);
                            break;
                        }
                    }
                }
            }
        }

        // hypothesis n-grams, clipped: an occurrence matches while fewer than max_count have
        const std::int32_t* hid = hyp_ids.data();
        for (index_t i = 0; i < H; ++i) {
            u64 h = 0;
            const index_t top = std::min(O, H - i);
            for (index_t n = 1; n <= top; ++n) {
                const std::int32_t id = hid[i + n - 1];
                if (id < 0) break;  // no reference has this token, so no longer n-gram from i either
                h = extend(h, id);
                NgramSlot* found = nullptr;
                for (size_t k = slot_of(h, nbits);; k = (k + 1) & nmask) {
                    NgramSlot& e = ngram_table[k];
                    if (e.stamp != stamp) break;
                    if (e.hash == h && e.n == n && same_ids(rid + e.start, hid + i, n)) {
                        found = &e;
                        break;
                    }
                }
                if (!found) break;  // every reference (n+1)-gram extends a reference n-gram
                if (found->used < found->max_count) {
                    ++found->used;
                    ++matches[n - 1];
                }
            }
        }
    }
};

}  // namespace

void bleu_stats(index_t S, const std::uint8_t* hyp_text, const index_t* hyp_offsets, const std::uint8_t* ref_text,
                const index_t* ref_offsets, const index_t* ref_groups, index_t O, BleuTokenizer tokenizer,
                int threads, index_t* stats) {
    if (S == 0) return;
    const index_t width = 2 + 2 * O;
    // A thread is worth starting for about 64 KiB of text (a few hundred sentence pairs).
    const index_t bytes = hyp_offsets[S] + ref_offsets[ref_groups[S]] - ref_offsets[ref_groups[0]];
    const index_t chunk = 64;
    const index_t chunks = (S + chunk - 1) / chunk;
    const int nt = static_cast<int>(
        std::max<index_t>(1, std::min<index_t>({static_cast<index_t>(threads), bytes >> 16, chunks})));
    std::vector<Scratch> scratch(static_cast<size_t>(nt));
    std::atomic<index_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_lock;
    auto work = [&](int t) {
        Scratch& w = scratch[static_cast<size_t>(t)];
        try {
            for (;;) {
                const index_t s0 = next.fetch_add(chunk);
                if (s0 >= S || failed.load(std::memory_order_relaxed)) return;
                const index_t s1 = std::min(S, s0 + chunk);
                for (index_t s = s0; s < s1; ++s)
                    w.count(hyp_text + hyp_offsets[s], hyp_offsets[s + 1] - hyp_offsets[s], ref_text, ref_offsets,
                            ref_groups[s], ref_groups[s + 1], O, tokenizer, stats + s * width);
            }
        } catch (...) {  // bad_alloc: handed to the calling thread once every worker has stopped
            std::lock_guard<std::mutex> hold(error_lock);
            if (!error) error = std::current_exception();
            failed = true;
        }
    };
    if (nt == 1) {
        work(0);
    } else {
        run_on_threads(nt, work);
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace seqcore
