/* Helpers shared by the compiled readers (_flatfile.c, _pieces.c): ASCII character classes
 * as Python's str methods and regexes see them, bounded find/rfind, a growable byte buffer. */
#ifndef PROTEINLM_CTEXT_H
#define PROTEINLM_CTEXT_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef Py_ssize_t ssz;

/* str.isspace() and str.split()'s separators, restricted to ASCII */
static inline int is_ws(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f); }
/* the regex \w, restricted to ASCII */
static inline int is_word(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

/* s.find(needle, start, end). The needles are short ("\nDR   ", "PubMed=") and most start with
 * "\n": memchr to each candidate first character, then compare the rest. memmem's general
 * algorithm scanned ~5x slower and took ~15% of the reader's time. */
static inline ssz find(const char *s, ssz n, const char *needle, ssz start, ssz end) {
    ssz m = (ssz)strlen(needle);
    if (start < 0) start = 0;
    if (end > n) end = n;
    if (m == 0) return start <= end ? start : -1;
    if (end - start < m) return -1;
    const char *p = s + start, *last = s + end - m; /* the last place a match may start */
    while (p <= last) {
        p = memchr(p, needle[0], (size_t)(last - p + 1));
        if (!p) return -1;
        if (memcmp(p + 1, needle + 1, (size_t)(m - 1)) == 0) return p - s;
        p++;
    }
    return -1;
}

#if !defined(__GLIBC__) /* memrchr is a GNU extension */
static inline const void *memrchr_portable(const void *s, int c, size_t n) {
    const unsigned char *p = (const unsigned char *)s + n;
    while (p > (const unsigned char *)s)
        if (*--p == (unsigned char)c) return p;
    return NULL;
}
#define memrchr memrchr_portable
#endif

/* s.rfind(needle, start, end): memrchr to each candidate first character, as `find` */
static inline ssz rfind(const char *s, ssz n, const char *needle, ssz start, ssz end) {
    ssz m = (ssz)strlen(needle);
    if (start < 0) start = 0;
    if (end > n) end = n;
    if (m == 0) return start <= end ? end : -1;
    if (end - start < m) return -1;
    ssz len = end - m - start + 1; /* the places a match may start: [start, end - m] */
    while (len > 0) {
        const char *p = memrchr(s + start, needle[0], (size_t)len);
        if (!p) return -1;
        if (memcmp(p + 1, needle + 1, (size_t)(m - 1)) == 0) return p - s;
        len = p - (s + start);
    }
    return -1;
}

/* 8 bytes at a time: the high bit of each byte of w equal to c (exact for any byte value: the
 * "has a zero byte" trick without its false positives) */
static inline uint64_t load8(const char *s) {
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

static inline uint64_t bytes_equal(uint64_t w, unsigned char c) {
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7FULL;
    uint64_t x = w ^ (0x0101010101010101ULL * c);
    return ~(((x & low7) + low7) | x | low7);
}

/* whether s[0:n] holds byte a followed by byte b: byte k of the word at i and byte k of the word
 * at i + 1 are s[i + k] and s[i + k + 1] */
static inline int has_pair(const char *s, ssz n, char a, char b) {
    ssz i = 0;
    for (; i + 9 <= n; i += 8)
        if (bytes_equal(load8(s + i), (unsigned char)a) & bytes_equal(load8(s + i + 1), (unsigned char)b)) return 1;
    for (; i + 1 < n; i++)
        if (s[i] == a && s[i + 1] == b) return 1;
    return 0;
}

static inline int starts(const char *s, ssz n, const char *prefix) {
    ssz m = (ssz)strlen(prefix);
    return n >= m && memcmp(s, prefix, (size_t)m) == 0;
}

static inline int equals(const char *s, ssz n, const char *word) {
    return (ssz)strlen(word) == n && memcmp(s, word, (size_t)n) == 0;
}

/* x.strip(): narrows [*a, *b) */
static inline void strip(const char *s, ssz *a, ssz *b) {
    while (*a < *b && is_ws((unsigned char)s[*a])) (*a)++;
    while (*b > *a && is_ws((unsigned char)s[*b - 1])) (*b)--;
}

/* One step of `for piece in s.split(";"): key, eq, value = piece.strip().partition("=")`: the
 * piece s[start:end], its stripped range [a, b) and the "=" in that range (NULL if none). */
typedef struct {
    ssz start, end, a, b;
    const char *eq;
} piece;

static inline int next_piece(const char *s, ssz n, ssz *i, piece *p) {
    if (*i > n) return 0;
    const char *semi = memchr(s + *i, ';', (size_t)(n - *i));
    p->start = *i;
    p->end = semi ? semi - s : n;
    p->a = p->start;
    p->b = p->end;
    strip(s, &p->a, &p->b);
    p->eq = memchr(s + p->a, '=', (size_t)(p->b - p->a));
    *i = p->end + 1;
    return 1;
}

/* ------------------------------------------------------------------ growable byte buffer */
typedef struct {
    char *p;
    ssz n, cap;
} buf;

/* room for k more bytes after b->n (loops that write a byte at a time reserve first: a `put`
 * per byte cost a call and a capacity check each) */
static inline int reserve(buf *b, ssz k) {
    if (b->n + k > b->cap) {
        ssz cap = b->cap ? b->cap : 256;
        while (cap < b->n + k) cap *= 2;
        char *p = PyMem_Realloc(b->p, (size_t)cap);
        if (!p) {
            PyErr_NoMemory();
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    return 0;
}

static inline int put(buf *b, const char *s, ssz k) {
    if (reserve(b, k) < 0) return -1;
    if (k) memcpy(b->p + b->n, s, (size_t)k);
    b->n += k;
    return 0;
}

static inline void release(buf *b) {
    PyMem_Free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

static inline PyObject *str_of(const char *s, ssz k) { return PyUnicode_DecodeASCII(s, k, NULL); }

/* strip_evidence(text): re.sub(r"\s*\{[^{}]*\}", "", text).strip() (or text.strip() without "{"),
 * into `out` (overwritten) */
static inline int strip_evidence(const char *s, ssz n, buf *out) {
    out->n = 0;
    if (!memchr(s, '{', (size_t)n)) {
        ssz a = 0, b = n;
        strip(s, &a, &b);
        return put(out, s + a, b - a);
    }
    if (reserve(out, n) < 0) return -1; /* the result is no longer than the text */
    ssz i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (is_ws(c) || c == '{') {
            ssz j = i;
            while (j < n && is_ws((unsigned char)s[j])) j++;
            if (j < n && s[j] == '{') {
                ssz k = j + 1;
                while (k < n && s[k] != '{' && s[k] != '}') k++;
                if (k < n && s[k] == '}') {
                    i = k + 1;
                    continue;
                }
            }
        }
        out->p[out->n++] = s[i]; /* room reserved below */
        i++;
    }
    ssz a = 0, b = out->n;
    strip(out->p, &a, &b);
    memmove(out->p, out->p + a, (size_t)(b - a));
    out->n = b - a;
    return 0;
}

static inline int append_str(PyObject *list, const char *s, ssz n) {
    PyObject *o = str_of(s, n);
    if (!o) return -1;
    int r = PyList_Append(list, o);
    Py_DECREF(o);
    return r;
}

/* s.replace(old, new) into out */
static inline int replace(const char *s, ssz n, const char *old, const char *new_, buf *out) {
    out->n = 0;
    ssz m = (ssz)strlen(old), k = (ssz)strlen(new_), last = 0, at;
    while ((at = find(s, n, old, last, n)) >= 0) {
        if (put(out, s + last, at - last) < 0 || put(out, new_, k) < 0) return -1;
        last = at + m;
    }
    return put(out, s + last, n - last);
}

PyObject *cut_pieces_c(PyObject *self, PyObject *args); /* _pieces.c */

#endif
