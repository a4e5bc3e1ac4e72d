"""BLEU's sufficient statistics compiled with numba: the cpp kernel's recipe over the UTF-8 byte arrays.

Each hypothesis with its references is tokenised by byte passes (sacrebleu's 13a rules, each regular
expression one left-to-right pass as ``re.sub`` makes it), its tokens get ids through an open-addressing
table compared byte for byte, and its n-grams are counted in a second table keyed by id sequences
(compared exactly, so a hash collision costs a probe, never a count).  Serial, on the calling thread
(nogil); see ``backends/reference/bleu.py`` for the definitions.
"""

from __future__ import annotations

import numpy as np

from ._kernels import _kernel


def _symbols() -> np.ndarray:
    table = np.zeros(256, np.bool_)
    for c in range(0x21, 0x7F):
        ch = chr(c)
        table[c] = not ch.isalnum() and ch not in "',-."
    return table


_SYMBOL = _symbols()
_SKIPPED = np.frombuffer(b"<skipped>", np.uint8).copy()
_QUOT = np.frombuffer(b"&quot;", np.uint8).copy()
_AMP = np.frombuffer(b"&amp;", np.uint8).copy()
_LT = np.frombuffer(b"&lt;", np.uint8).copy()
_GT = np.frombuffer(b"&gt;", np.uint8).copy()
_NOTHING = np.zeros(0, np.uint8)
_DQUOTE = np.frombuffer(b'"', np.uint8).copy()
_AMPERSAND = np.frombuffer(b"&", np.uint8).copy()
_LESS = np.frombuffer(b"<", np.uint8).copy()
_GREATER = np.frombuffer(b">", np.uint8).copy()

_SPACE = np.uint8(32)


@_kernel
def _space_len(s, i, n):
    """Byte length of the Python whitespace character starting at s[i], or 0."""
    b = s[i]
    if b < 0x80:
        return 1 if (0x09 <= b <= 0x0D) or (0x1C <= b <= 0x20) else 0
    if b == 0xC2:
        return 2 if i + 1 < n and (s[i + 1] == 0x85 or s[i + 1] == 0xA0) else 0
    if i + 2 >= n:
        return 0
    b1, b2 = s[i + 1], s[i + 2]
    if b == 0xE1:
        return 3 if b1 == 0x9A and b2 == 0x80 else 0
    if b == 0xE2:
        if b1 == 0x80:
            return 3 if (0x80 <= b2 <= 0x8A) or b2 == 0xA8 or b2 == 0xA9 or b2 == 0xAF else 0
        return 3 if b1 == 0x81 and b2 == 0x9F else 0
    if b == 0xE3:
        return 3 if b1 == 0x80 and b2 == 0x80 else 0
    return 0


@_kernel
def _rstrip_len(s, n):
    while True:
        if n >= 1 and _space_len(s, n - 1, n) == 1:
            n -= 1
        elif n >= 2 and _space_len(s, n - 2, n) == 2:
            n -= 2
        elif n >= 3 and _space_len(s, n - 3, n) == 3:
            n -= 3
        else:
            return n


@_kernel
def _contains(s, c):
    for i in range(s.size):
        if s[i] == c:
            return True
    return False


@_kernel
def _replace(s, pattern, repl):
    """str.replace: leftmost, non-overlapping, one pass (no replacement here is longer than its pattern)."""
    n, m = s.size, pattern.size
    o = np.empty(n, np.uint8)
    k = 0
    i = 0
    while i < n:
        hit = s[i] == pattern[0] and i + m <= n
        j = 1
        while hit and j < m:
            hit = s[i + j] == pattern[j]
            j += 1
        if hit:
            for j in range(repl.size):
                o[k] = repl[j]
                k += 1
            i += m
        else:
            o[k] = s[i]
            k += 1
            i += 1
    return o[:k]


@_kernel
def _join_lines(s):
    """.replace('-\\n', '') then .replace('\\n', ' '), fused (the second maps whatever newlines remain)."""
    n = s.size
    o = np.empty(n, np.uint8)
    k = 0
    i = 0
    while i < n:
        if s[i] == 45 and i + 1 < n and s[i + 1] == 10:
            i += 2
            continue
        o[k] = _SPACE if s[i] == 10 else s[i]
        k += 1
        i += 1
    return o[:k]


@_kernel
def _pad_symbols(s):
    """f" {line} " with every split symbol padded by spaces."""
    o = np.empty(3 * s.size + 2, np.uint8)
    o[0] = _SPACE
    k = 1
    for i in range(s.size):
        c = s[i]
        if _SYMBOL[c]:
            o[k] = _SPACE
            o[k + 1] = c
            o[k + 2] = _SPACE
            k += 3
        else:
            o[k] = c
            k += 1
    o[k] = _SPACE
    return o[: k + 1]


@_kernel
def _is_digit(c):
    return 48 <= c <= 57


@_kernel
def _is_point(c):
    return c == 46 or c == 44


@_kernel
def _split_point_after(s):
    """([^0-9])([.,]) -> "\\1 \\2 ", never starting a match in the previous one."""
    o = np.empty(2 * s.size + 1, np.uint8)
    k = 0
    prev_taken = True
    for i in range(s.size):
        c = s[i]
        if _is_point(c) and not prev_taken and not _is_digit(s[i - 1]):
            o[k] = _SPACE
            o[k + 1] = c
            o[k + 2] = _SPACE
            k += 3
            prev_taken = True
        else:
            o[k] = c
            k += 1
            prev_taken = False
    return o[:k]


@_kernel
def _split_point_before(s):
    """([.,])([^0-9]) -> " \\1 \\2"."""
    n = s.size
    o = np.empty(2 * n + 1, np.uint8)
    k = 0
    i = 0
    while i < n:
        c = s[i]
        if _is_point(c) and i + 1 < n and not _is_digit(s[i + 1]):
            o[k] = _SPACE
            o[k + 1] = c
            o[k + 2] = _SPACE
            o[k + 3] = s[i + 1]
            k += 4
            i += 2
        else:
            o[k] = c
            k += 1
            i += 1
    return o[:k]


@_kernel
def _split_dash_after_digit(s):
    """([0-9])(-) -> "\\1 \\2 "."""
    n = s.size
    o = np.empty(2 * n + 1, np.uint8)
    k = 0
    i = 0
    while i < n:
        c = s[i]
        o[k] = c
        k += 1
        if _is_digit(c) and i + 1 < n and s[i + 1] == 45:
            o[k] = _SPACE
            o[k + 1] = 45
            o[k + 2] = _SPACE
            k += 3
            i += 2
        else:
            i += 1
    return o[:k]


@_kernel
def _tokenized_13a(text):
    s = text[: _rstrip_len(text, text.size)]
    if _contains(s, 60):  # '<'
        s = _replace(s, _SKIPPED, _NOTHING)
    if _contains(s, 10):  # '\n'
        s = _join_lines(s)
    if _contains(s, 38):  # '&'
        s = _replace(s, _QUOT, _DQUOTE)
        s = _replace(s, _AMP, _AMPERSAND)
        s = _replace(s, _LT, _LESS)
        s = _replace(s, _GT, _GREATER)
    s = _pad_symbols(s)
    s = _split_point_after(s)
    s = _split_point_before(s)
    return _split_dash_after_digit(s)


@_kernel
def _grow(a, need):
    if need <= a.size:
        return a
    b = np.empty(max(need, 2 * a.size), a.dtype)
    b[: a.size] = a
    return b


@_kernel
def _add_tokens(text, is13a, words, nw, tok_begin, tok_len, nt):
    """Appends the tokens of text to words (bytes) and tok_begin/tok_len; returns the grown arrays and counts."""
    s = _tokenized_13a(text) if is13a else text
    n = s.size
    words = _grow(words, nw + n)
    i = 0
    while i < n:
        sp = _space_len(s, i, n)
        if sp:
            i += sp
            continue
        start = i
        i += 1
        while i < n and _space_len(s, i, n) == 0:
            i += 1
        tok_begin = _grow(tok_begin, nt + 1)
        tok_len = _grow(tok_len, nt + 1)
        tok_begin[nt] = nw
        tok_len[nt] = i - start
        words[nw : nw + i - start] = s[start:i]
        nw += i - start
        nt += 1
    return words, nw, tok_begin, tok_len, nt


@_kernel
def _mix(h):
    return h ^ (h >> np.int64(29))


@_kernel
def _hash_bytes(words, b, n):
    h = np.int64(-7046029254386353131)
    for k in range(n):
        h = (h ^ np.int64(words[b + k])) * np.int64(1099511628211)
    return _mix(h * np.int64(-4658895280553007687))


@_kernel
def _extend(h, token_id):
    return _mix((h + np.int64(token_id) + np.int64(1)) * np.int64(-7046029254386353131))


@_kernel
def _table_size(entries):
    size = 16
    while size < 2 * entries:
        size *= 2
    return size


@_kernel
def _same_bytes(words, a, b, n):
    for k in range(n):
        if words[a + k] != words[b + k]:
            return False
    return True


@_kernel
def _same_ids(x, a, y, b, n):
    for k in range(n):
        if x[a + k] != y[b + k]:
            return False
    return True


@_kernel
def _token_ids(words, tok_begin, tok_len, H, nt):
    """Ids of the reference tokens (tokens H.. nt-1: one per distinct token) and of the hypothesis tokens
    (0 .. H-1: -1 where no reference has the token)."""
    size = _table_size(nt - H)
    mask = size - 1
    slot_tok = np.full(size, -1, np.int64)  # the token stored there, -1 = empty
    slot_id = np.empty(size, np.int64)
    slot_hash = np.empty(size, np.int64)
    ref_ids = np.empty(nt - H, np.int64)
    hyp_ids = np.empty(H, np.int64)
    next_id = 0
    for t in range(H, nt):
        h = _hash_bytes(words, tok_begin[t], tok_len[t])
        k = h & mask
        while True:
            u = slot_tok[k]
            if u < 0:
                slot_tok[k], slot_id[k], slot_hash[k] = t, next_id, h
                ref_ids[t - H] = next_id
                next_id += 1
                break
            if (
                slot_hash[k] == h
                and tok_len[u] == tok_len[t]
                and _same_bytes(words, tok_begin[u], tok_begin[t], tok_len[t])
            ):
                ref_ids[t - H] = slot_id[k]
                break
            k = (k + 1) & mask
    for t in range(H):
        h = _hash_bytes(words, tok_begin[t], tok_len[t])
        k = h & mask
        hyp_ids[t] = -1
        while slot_tok[k] >= 0:
            u = slot_tok[k]
            if (
                slot_hash[k] == h
                and tok_len[u] == tok_len[t]
                and _same_bytes(words, tok_begin[u], tok_begin[t], tok_len[t])
            ):
                hyp_ids[t] = slot_id[k]
                break
            k = (k + 1) & mask
    return ref_ids, hyp_ids


@_kernel
def _count_row(words, tok_begin, tok_len, H, ref_first, R, O, row):
    row[:] = 0
    row[0] = H
    for n in range(1, min(O, H) + 1):
        row[1 + O + n] = H - n + 1
    if R == 0:
        return
    best, best_diff = -1, -1
    for r in range(R):
        length = ref_first[r + 1] - ref_first[r]
        diff = abs(length - H)
        if best_diff < 0 or diff < best_diff or (diff == best_diff and length < best):
            best, best_diff = length, diff
    row[1] = best
    nt = ref_first[R]
    if nt == H or H == 0:
        return
    ref_ids, hyp_ids = _token_ids(words, tok_begin, tok_len, H, nt)

    # reference n-grams with their largest count over the references
    entries = 0
    for r in range(R):
        length = ref_first[r + 1] - ref_first[r]
        for n in range(1, min(O, length) + 1):
            entries += length - n + 1
    size = _table_size(entries)
    mask = size - 1
    slot_n = np.zeros(size, np.int64)  # 0 = empty
    slot_start = np.empty(size, np.int64)
    slot_hash = np.empty(size, np.int64)
    slot_max = np.empty(size, np.int64)
    slot_count = np.empty(size, np.int64)
    slot_ref = np.empty(size, np.int64)
    slot_used = np.empty(size, np.int64)
    for r in range(R):
        first, length = ref_first[r] - H, ref_first[r + 1] - ref_first[r]
        for i in range(length):
            h = np.int64(0)
            for n in range(1, min(O, length - i) + 1):
                h = _extend(h, ref_ids[first + i + n - 1])
                k = h & mask
                while True:
                    if slot_n[k] == 0:
                        slot_n[k], slot_start[k], slot_hash[k] = n, first + i, h
                        slot_max[k], slot_count[k], slot_ref[k], slot_used[k] = 1, 1, r, 0
                        break
                    if (
                        slot_hash[k] == h
                        and slot_n[k] == n
                        and _same_ids(ref_ids, slot_start[k], ref_ids, first + i, n)
                    ):
                        if slot_ref[k] != r:
                            slot_ref[k] = r
                            slot_count[k] = 0
                        slot_count[k] += 1
                        slot_max[k] = max(slot_max[k], slot_count[k])
                        break
                    k = (k + 1) & mask

    # hypothesis n-grams, clipped: an occurrence matches while fewer than the largest count have
    for i in range(H):
        h = np.int64(0)
        for n in range(1, min(O, H - i) + 1):
            token_id = hyp_ids[i + n - 1]
            if token_id < 0:
                break
            h = _extend(h, token_id)
            k = h & mask
            found = -1
            while slot_n[k] != 0:
                if slot_hash[k] == h and slot_n[k] == n and _same_ids(ref_ids, slot_start[k], hyp_ids, i, n):
                    found = k
                    break
                k = (k + 1) & mask
            if found < 0:
                break  # every reference (n+1)-gram extends a reference n-gram
            if slot_used[found] < slot_max[found]:
                slot_used[found] += 1
                row[1 + n] += 1


@_kernel
def _bleu_rows(hyp_text, hyp_offsets, ref_text, ref_offsets, ref_groups, O, is13a, stats):
    words = np.empty(1024, np.uint8)
    tok_begin = np.empty(64, np.int64)
    tok_len = np.empty(64, np.int64)
    for s in range(hyp_offsets.size - 1):
        words, nw, tok_begin, tok_len, nt = _add_tokens(
            hyp_text[hyp_offsets[s] : hyp_offsets[s + 1]], is13a, words, 0, tok_begin, tok_len, 0
        )
        H = nt
        r0, r1 = ref_groups[s], ref_groups[s + 1]
        ref_first = np.empty(r1 - r0 + 1, np.int64)
        for r in range(r0, r1):
            ref_first[r - r0] = nt
            words, nw, tok_begin, tok_len, nt = _add_tokens(
                ref_text[ref_offsets[r] : ref_offsets[r + 1]], is13a, words, nw, tok_begin, tok_len, nt
            )
        ref_first[r1 - r0] = nt
        _count_row(words, tok_begin, tok_len, H, ref_first, r1 - r0, O, stats[s])


def bleu_stats(hyp_text, hyp_offsets, ref_text, ref_offsets, ref_groups, max_order, tokenize):
    S = hyp_offsets.size - 1
    stats = np.zeros((S, 2 + 2 * max_order), np.int64)
    _bleu_rows(hyp_text, hyp_offsets, ref_text, ref_offsets, ref_groups, max_order, tokenize == "13a", stats)
    return stats
