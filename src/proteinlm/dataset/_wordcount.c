/* The word-by-word token count of `token_cache.WordCacheCounter._plain_count` in C, over a table of
 * word forms held in C (no str object is made per word: the Python count makes one per word and
 * looks it up in a dict, ~50 ns a word; this reads ~10 ns a word).
 *
 * A table maps a word form, as its bytes, to its token count: a line's first word ("Homodimer.")
 * or a later word with the space before it (" binds"), which is how the GPT-2 regex cuts plain
 * text. Python fills it (the counts come from the tokenizer, see `_word_counts`).
 *
 * words_count(table, texts, newlines, lt_unsure, fold_digits) -> (totals, missing)
 *   totals[i]: `_plain_count(texts[i])`, or None where this does not count the text: not ASCII,
 *              not plain (see `_not_plain`: any control character but "\n", double spaces, a space
 *              next to a line break, a line break at either end, a space at the end), a "<" when
 *              `lt_unsure` (an added token may start there), a run of newlines longer than
 *              len(newlines) (newlines[k - 1]: the tokens of a run of k), or a form the table lacks;
 *   missing:   the forms the table lacked, each once, for Python to count and `words_add`.
 * With `fold_digits` (`_digits_single()`: every digit is a token of its own and no token joins one
 * to anything) a form's count does not depend on which digits it holds, so each form is looked up,
 * reported and held with its digits written as "0": "Q9Y6K9" and "P0A7B8" are one form, "Q0Y0K0",
 * and an entry's accession and entry name ("P12345", "(HBA1_HUMAN)") are rarely new forms. The
 * table must then be filled only through such calls (its forms folded). Forms longer than
 * FOLD_MAX are looked up as they are.
 * tests/test_token_cache.py checks the totals against the tokenizer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "../sources/_ctext.h"

typedef struct {
    uint64_t hash;
    ssz off, len; /* the form's bytes in the arena */
    long count;   /* -1: a form reported missing in this call (not counted yet) */
} slot;

typedef struct {
    slot *slots;
    ssz cap, used; /* cap: a power of two; used: forms held */
    buf arena;
} table;

static uint64_t hash_bytes(const char *s, ssz n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, (size_t)n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

/* the slot of a form: its own, or the empty one where it would go */
static slot *find_slot(table *t, const char *s, ssz n, uint64_t h) {
    ssz mask = t->cap - 1;
    for (ssz i = (ssz)(h & (uint64_t)mask);; i = (i + 1) & mask) {
        slot *e = &t->slots[i];
        if (e->len == 0) return e; /* forms are never empty */
        if (e->hash == h && e->len == n && memcmp(t->arena.p + e->off, s, (size_t)n) == 0) return e;
    }
}

static int grow(table *t) {
    ssz cap = t->cap ? t->cap * 2 : 1 << 12;
    slot *old = t->slots, *fresh = PyMem_Calloc((size_t)cap, sizeof(slot));
    if (!fresh) {
        PyErr_NoMemory();
        return -1;
    }
    ssz old_cap = t->cap;
    t->slots = fresh;
    t->cap = cap;
    for (ssz i = 0; i < old_cap; i++)
        if (old[i].len) *find_slot(t, t->arena.p + old[i].off, old[i].len, old[i].hash) = old[i];
    PyMem_Free(old);
    return 0;
}

/* the slot of a form, added (with `count`) if new; NULL on failure */
static slot *lookup_or_add(table *t, const char *s, ssz n, long count) {
    if (2 * (t->used + 1) > t->cap && grow(t) < 0) return NULL;
    uint64_t h = hash_bytes(s, n);
    slot *e = find_slot(t, s, n, h);
    if (e->len == 0) {
        ssz off = t->arena.n;
        if (put(&t->arena, s, n) < 0) return NULL;
        e->hash = h, e->off = off, e->len = n, e->count = count;
        t->used++;
    }
    return e;
}

static void table_free(PyObject *capsule) {
    table *t = PyCapsule_GetPointer(capsule, "proteinlm.words");
    if (!t) return;
    PyMem_Free(t->slots);
    release(&t->arena);
    PyMem_Free(t);
}

static table *table_of(PyObject *capsule) { return PyCapsule_GetPointer(capsule, "proteinlm.words"); }

PyObject *words_new_c(PyObject *self, PyObject *args) {
    table *t = PyMem_Calloc(1, sizeof(table));
    if (!t) return PyErr_NoMemory();
    PyObject *capsule = PyCapsule_New(t, "proteinlm.words", table_free);
    if (!capsule) PyMem_Free(t);
    return capsule;
}

/* words_add(table, forms, counts): set the counts of ASCII forms (others are ignored) */
PyObject *words_add_c(PyObject *self, PyObject *args) {
    PyObject *capsule, *forms, *counts;
    if (!PyArg_ParseTuple(args, "OO!O!", &capsule, &PyList_Type, &forms, &PyList_Type, &counts)) return NULL;
    table *t = table_of(capsule);
    if (!t) return NULL;
    if (PyList_GET_SIZE(forms) != PyList_GET_SIZE(counts)) {
        PyErr_SetString(PyExc_ValueError, "forms and counts differ in length");
        return NULL;
    }
    for (ssz i = 0; i < PyList_GET_SIZE(forms); i++) {
        PyObject *f = PyList_GET_ITEM(forms, i);
        long c = PyLong_AsLong(PyList_GET_ITEM(counts, i));
        if (c == -1 && PyErr_Occurred()) return NULL;
        if (!PyUnicode_Check(f) || !PyUnicode_IS_ASCII(f) || PyUnicode_GET_LENGTH(f) == 0) continue;
        slot *e = lookup_or_add(t, (const char *)PyUnicode_DATA(f), PyUnicode_GET_LENGTH(f), c);
        if (!e) return NULL;
        e->count = c;
    }
    Py_RETURN_NONE;
}

/* words_len(table) -> forms held; words_clear(table) empties it */
PyObject *words_len_c(PyObject *self, PyObject *capsule) {
    table *t = table_of(capsule);
    return t ? PyLong_FromSsize_t(t->used) : NULL;
}

PyObject *words_clear_c(PyObject *self, PyObject *capsule) {
    table *t = table_of(capsule);
    if (!t) return NULL;
    PyMem_Free(t->slots);
    t->slots = NULL;
    t->cap = t->used = 0;
    t->arena.n = 0;
    Py_RETURN_NONE;
}

/* Whether the text is one this counts (see the top): ASCII, plain, no "<" when lt_unsure. */
static int countable(const unsigned char *s, ssz n, int lt_unsure) {
    if (n == 0 || s[0] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\n') return 0;
    for (ssz i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '\n') {
            if (i > 0 && s[i - 1] == ' ') return 0;
            if (s[i + 1] == ' ') return 0; /* i + 1 < n: the text does not end with "\n" */
        } else if (c < 0x20 || c > 0x7e) {
            return 0;
        } else if (c == ' ') {
            if (i + 1 < n && s[i + 1] == ' ') return 0;
        } else if (c == '<' && lt_unsure) {
            return 0;
        }
    }
    return 1;
}

#define FOLD_MAX 64

/* one form's count; -1: missing (reported once into `missing`), -2: error */
static long form_count(table *t, const char *s, ssz n, PyObject *missing, int fold) {
    char folded[FOLD_MAX];
    if (fold && n <= FOLD_MAX) {
        ssz i = 0;
        while (i < n && !(s[i] >= '0' && s[i] <= '9')) i++;
        if (i < n) { /* a digit: look the folded form up */
            memcpy(folded, s, (size_t)n);
            for (; i < n; i++)
                if (folded[i] >= '0' && folded[i] <= '9') folded[i] = '0';
            s = folded;
        }
    }
    slot *e = lookup_or_add(t, s, n, -1);
    if (!e) return -2;
    if (e->count >= 0) return e->count;
    if (e->count == -1) { /* first report in this call */
        PyObject *form = PyUnicode_DecodeASCII(s, n, NULL);
        if (!form || PyList_Append(missing, form) < 0) {
            Py_XDECREF(form);
            return -2;
        }
        Py_DECREF(form);
        e->count = -3; /* reported */
    }
    return -1;
}

/* `_plain_count` of one countable text: -1 missing forms, -2 error, -3 declined (newline run) */
static long text_count(table *t, const char *s, ssz n, const long *nl, ssz nl_n, PyObject *missing, int fold) {
    long total = 0;
    int complete = 1, started = 0;
    ssz run = 0;
    for (ssz a = 0; a <= n;) {
        const char *eol = memchr(s + a, '\n', (size_t)(n - a));
        ssz b = eol ? eol - s : n;
        if (b == a) { /* an empty line: one more newline in the run */
            run++;
            a = b + 1;
            continue;
        }
        if (started) {
            if (run + 1 > nl_n) return -3;
            total += nl[run];
        }
        started = 1, run = 0;
        /* words: the first bare (unless the line starts with a space), each later one with its space */
        ssz i = a;
        while (i < b) {
            ssz j = i + (s[i] == ' ');
            const char *sp = memchr(s + j, ' ', (size_t)(b - j));
            ssz end = sp ? sp - s : b;
            long c = form_count(t, s + i, end - i, missing, fold);
            if (c == -2) return -2;
            if (c < 0)
                complete = 0;
            else
                total += c;
            i = end;
        }
        a = b + 1;
    }
    return complete ? total : -1;
}

PyObject *words_count_c(PyObject *self, PyObject *args) {
    PyObject *capsule, *texts, *newlines;
    int lt_unsure, fold;
    if (!PyArg_ParseTuple(args, "OO!O!pp", &capsule, &PyList_Type, &texts, &PyTuple_Type, &newlines, &lt_unsure,
                          &fold))
        return NULL;
    table *t = table_of(capsule);
    if (!t) return NULL;
    long nl[16];
    ssz nl_n = PyTuple_GET_SIZE(newlines) < 16 ? PyTuple_GET_SIZE(newlines) : 16;
    for (ssz k = 0; k < nl_n; k++)
        if ((nl[k] = PyLong_AsLong(PyTuple_GET_ITEM(newlines, k))) == -1 && PyErr_Occurred()) return NULL;
    ssz count = PyList_GET_SIZE(texts);
    PyObject *totals = PyList_New(count), *missing = PyList_New(0);
    if (!totals || !missing) goto fail;
    for (ssz i = 0; i < count; i++) {
        PyObject *text = PyList_GET_ITEM(texts, i);
        long c = -3;
        if (PyUnicode_Check(text) && PyUnicode_IS_ASCII(text)) {
            const char *s = (const char *)PyUnicode_DATA(text);
            ssz n = PyUnicode_GET_LENGTH(text);
            if (countable((const unsigned char *)s, n, lt_unsure)) c = text_count(t, s, n, nl, nl_n, missing, fold);
        }
        if (c == -2) goto fail;
        PyObject *v = c >= 0 ? PyLong_FromLong(c) : Py_NewRef(Py_None);
        if (!v) goto fail;
        PyList_SET_ITEM(totals, i, v);
    }
    /* forms reported missing go back to "not counted yet" until Python adds them */
    ssz reported = PyList_GET_SIZE(missing);
    for (ssz k = 0; k < reported; k++) {
        PyObject *f = PyList_GET_ITEM(missing, k);
        slot *e = find_slot(t, (const char *)PyUnicode_DATA(f), PyUnicode_GET_LENGTH(f),
                            hash_bytes((const char *)PyUnicode_DATA(f), PyUnicode_GET_LENGTH(f)));
        if (e->len) e->count = -1;
    }
    return Py_BuildValue("(NN)", totals, missing);
fail:
    Py_XDECREF(totals);
    Py_XDECREF(missing);
    return NULL;
}
