/* Rows to JSON text in C: the compiled twin of `writers.json_lines` and `sft_exports.export_parts`
 * (and of `seqtext.seq_to_text`, at the end).
 *
 * encode_rows(rows, exports) takes a list of dicts whose keys are str and whose values are str,
 * None, bool or int, and returns (jsonl, alpaca, chat) as UTF-8 bytes:
 *   jsonl  = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
 *   alpaca, chat = export_parts(rows, ...) when `exports` (SFT rows: "id", "instruction", "input",
 *                  "output"), else b"", b""
 * or None whenever it is not sure to write exactly that (another value type, a str that is not
 * valid UTF-8, a chat turn that `str.strip` would change): the Python writers then do the work.
 * CPython's JSON string encoder reads ~400 MB/s and the results are joined and encoded to UTF-8
 * afterwards; this writes the UTF-8 bytes in one pass, copying runs that need no escape.
 * tests/test_writers.py checks it against json.dumps and the Python writers.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "../sources/_ctext.h"

/* put a string literal (its length counted by the compiler) */
#define put_lit(b, lit) put((b), (lit), (ssz)(sizeof(lit) - 1))

/* Bytes JSON escapes (ensure_ascii=False): '"', '\\' and the controls below 0x20. */
static unsigned char NEEDS_ESCAPE[256];

static void init_escape_table(void) {
    for (int c = 0; c < 256; c++) NEEDS_ESCAPE[c] = c < 0x20 || c == '"' || c == '\\';
}

/* UTF-8 bytes of a str (its own data when ASCII); NULL with no error set when it has none
 * (lone surrogates), NULL with an error on failure. */
static const char *utf8_of(PyObject *s, ssz *n) {
    if (PyUnicode_IS_ASCII(s)) {
        *n = PyUnicode_GET_LENGTH(s);
        return (const char *)PyUnicode_DATA(s);
    }
    const char *p = PyUnicode_AsUTF8AndSize(s, n);
    if (!p && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) PyErr_Clear();
    return p;
}

/* Whether one of the 8 bytes of w is below 0x20, '"' or '\\': the "has a byte less than n" and
 * "has a zero byte" bit tricks, exact for whether such a byte exists. The texts are long runs that
 * need no escape, which this skips 8 bytes at a time. */
static inline int word_needs_escape(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t below = (w - ones * 0x20) & ~w;
    uint64_t zero_q = (quote - ones) & ~quote, zero_b = (backslash - ones) & ~backslash;
    return ((below | zero_q | zero_b) & highs) != 0;
}

/* Long texts found to need no escape in this encode_rows call, by where their bytes are: an
 * entry's sequence text is the input of each of its SFT rows, written three times a row (the
 * line, alpaca, chat), so most of the bytes are seen before and copied without a scan. The
 * texts stay where they are while the call's `rows` hold them; the table is emptied per call. */
#define CLEAN_SLOTS 64
#define CLEAN_MIN 64 /* shorter texts are scanned again: cheaper than a slot */
static struct {
    const char *p;
    ssz n;
} clean_seen[CLEAN_SLOTS];

static inline ssz clean_slot(const char *s) { return (ssz)(((uintptr_t)s >> 4) & (CLEAN_SLOTS - 1)); }

/* the escaped body of a JSON string, as json's encode_basestring writes it */
static int put_escaped(buf *b, const char *s, ssz n) {
    static const char hex[] = "0123456789abcdef";
    if (n >= CLEAN_MIN && clean_seen[clean_slot(s)].p == s && clean_seen[clean_slot(s)].n == n) return put(b, s, n);
    ssz run = 0;
    for (ssz i = 0; i < n; i++) {
        while (i + 8 <= n) { /* skip clean words */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (word_needs_escape(w)) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned char c = (unsigned char)s[i];
        if (!NEEDS_ESCAPE[c]) continue;
        if (put(b, s + run, i - run) < 0) return -1;
        run = i + 1;
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        ssz k = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
            k = 6;
        }
        if (put(b, e, k) < 0) return -1;
    }
    if (run == 0 && n >= CLEAN_MIN) { /* no escape: remember it */
        clean_seen[clean_slot(s)].p = s;
        clean_seen[clean_slot(s)].n = n;
    }
    return put(b, s + run, n - run);
}

/* a JSON string: 1 = declined (no UTF-8 form) */
static int put_string(buf *b, PyObject *s) {
    ssz n;
    const char *p = utf8_of(s, &n);
    if (!p) return PyErr_Occurred() ? -1 : 1;
    if (put_lit(b, "\"") < 0 || put_escaped(b, p, n) < 0 || put_lit(b, "\"") < 0) return -1;
    return 0;
}

/* a JSON value of str, None, bool or int: 1 = declined (another type) */
static int put_value(buf *b, PyObject *v) {
    if (PyUnicode_CheckExact(v)) return put_string(b, v);
    if (v == Py_None) return put_lit(b, "null");
    if (v == Py_True) return put_lit(b, "true");
    if (v == Py_False) return put_lit(b, "false");
    if (PyLong_CheckExact(v)) {
        PyObject *text = PyObject_Str(v);
        if (!text) return -1;
        int r = put(b, PyUnicode_AsUTF8(text), PyUnicode_GET_LENGTH(text));
        Py_DECREF(text);
        return r;
    }
    return 1;
}

/* one JSON line: 1 = declined */
static int put_row(buf *b, PyObject *row) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    int first = 1, r;
    if (put_lit(b, "{") < 0) return -1;
    while (PyDict_Next(row, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) return 1;
        if (!first && put_lit(b, ", ") < 0) return -1;
        first = 0;
        if ((r = put_string(b, key)) != 0) return r;
        if (put_lit(b, ": ") < 0) return -1;
        if ((r = put_value(b, value)) != 0) return r;
    }
    return put_lit(b, "}\n");
}

/* the str value of `key` in an SFT row (borrowed), or NULL: declined */
static PyObject *text_field(PyObject *row, const char *key) {
    PyObject *v = PyDict_GetItemString(row, key);
    return v && PyUnicode_CheckExact(v) ? v : NULL;
}

/* the alpaca object and the chat line of one SFT row (export_parts): 1 = declined */
static int put_exports(buf *alpaca, buf *chat, PyObject *row, int first) {
    PyObject *id = PyDict_GetItemString(row, "id");
    PyObject *ins = text_field(row, "instruction"), *inp = text_field(row, "input"), *out = text_field(row, "output");
    if (!id || !ins || !inp || !out) return 1;
    ssz ni = PyUnicode_GET_LENGTH(ins), nn = PyUnicode_GET_LENGTH(inp);
    /* the user turn is (instruction + "\n" + input).strip(): taken only where strip keeps it whole */
    if (ni == 0 || nn == 0 || Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(ins, 0)) ||
        Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(inp, nn - 1)))
        return 1;
    ssz li, ln, lo;
    const char *si = utf8_of(ins, &li), *sn = utf8_of(inp, &ln), *so = utf8_of(out, &lo);
    if (!si || !sn || !so) return PyErr_Occurred() ? -1 : 1;
    if (!first && put_lit(alpaca, ",\n") < 0) return -1;
    if (put_lit(alpaca, "{\"instruction\": \"") < 0 || put_escaped(alpaca, si, li) < 0 ||
        put_lit(alpaca, "\", \"input\": \"") < 0 || put_escaped(alpaca, sn, ln) < 0 ||
        put_lit(alpaca, "\", \"output\": \"") < 0 || put_escaped(alpaca, so, lo) < 0 || put_lit(alpaca, "\"}") < 0)
        return -1;
    int r;
    if (put_lit(chat, "{\"id\": ") < 0) return -1;
    if ((r = put_value(chat, id)) != 0) return r;
    if (put_lit(chat, ", \"messages\": [{\"role\": \"user\", \"content\": \"") < 0 || put_escaped(chat, si, li) < 0 ||
        put_lit(chat, "\\n") < 0 || put_escaped(chat, sn, ln) < 0 ||
        put_lit(chat, "\"}, {\"role\": \"assistant\", \"content\": \"") < 0 || put_escaped(chat, so, lo) < 0 ||
        put_lit(chat, "\"}]}\n") < 0)
        return -1;
    return 0;
}

static PyObject *encode_rows(PyObject *self, PyObject *args) {
    PyObject *rows;
    int exports;
    if (!PyArg_ParseTuple(args, "O!p", &PyList_Type, &rows, &exports)) return NULL;
    /* kept between calls: a build's batches are alike in size, and fresh memory costs a page fault
     * per 4 KB (as much as the writing itself) */
    static buf lines = {0}, alpaca = {0}, chat = {0};
    lines.n = alpaca.n = chat.n = 0;
    memset(clean_seen, 0, sizeof clean_seen); /* the last call's texts may be gone */
    PyObject *result = NULL;
    int r = 0;
    for (ssz i = 0; i < PyList_GET_SIZE(rows) && r == 0; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyDict_CheckExact(row)) {
            r = 1;
            break;
        }
        r = put_row(&lines, row);
        if (r == 0 && exports) r = put_exports(&alpaca, &chat, row, i == 0);
    }
    if (r == 0)
        result = Py_BuildValue("(y#y#y#)", lines.p ? lines.p : "", lines.n, alpaca.p ? alpaca.p : "", alpaca.n,
                               chat.p ? chat.p : "", chat.n);
    else if (r == 1)
        result = Py_NewRef(Py_None);
    if (lines.cap > (64 << 20)) release(&lines); /* an outsized batch: give its memory back */
    if (alpaca.cap > (64 << 20)) release(&alpaca);
    if (chat.cap > (64 << 20)) release(&chat);
    return result;
}

/* seq_text(seq, open_tag, close_tag, sep) -> seqtext.seq_to_text's text, or None (a non-ASCII
 * argument). `sep.join(seq)` makes a one-character str per residue: this writes the text at once. */
static PyObject *seq_text(PyObject *self, PyObject *args) {
    PyObject *seq, *open_tag, *close_tag, *sep;
    if (!PyArg_ParseTuple(args, "UUUU", &seq, &open_tag, &close_tag, &sep)) return NULL;
    if (!PyUnicode_IS_ASCII(seq) || !PyUnicode_IS_ASCII(open_tag) || !PyUnicode_IS_ASCII(close_tag) ||
        !PyUnicode_IS_ASCII(sep))
        Py_RETURN_NONE;
    ssz n = PyUnicode_GET_LENGTH(seq), no = PyUnicode_GET_LENGTH(open_tag), nc = PyUnicode_GET_LENGTH(close_tag);
    ssz ns = PyUnicode_GET_LENGTH(sep);
    const char *s = (const char *)PyUnicode_DATA(seq), *o = (const char *)PyUnicode_DATA(open_tag);
    const char *c = (const char *)PyUnicode_DATA(close_tag), *p = (const char *)PyUnicode_DATA(sep);
    /* the parts: open_tag (if any), each residue, close_tag (if any), `sep` between two parts */
    ssz parts = n + (no > 0) + (nc > 0);
    ssz total = no + n + nc + (parts > 1 ? (parts - 1) * ns : 0);
    PyObject *out = PyUnicode_New(total, 127);
    if (!out) return NULL;
    char *w = (char *)PyUnicode_DATA(out);
    int first = 1;
#define PART(src, len)                       \
    do {                                     \
        if (!first) memcpy(w, p, ns), w += ns; \
        memcpy(w, (src), (len));             \
        w += (len);                          \
        first = 0;                           \
    } while (0)
    if (no) PART(o, no);
    if (ns == 1 && !first) { /* the usual case: one separator character, before every residue */
        for (ssz i = 0; i < n; i++) w[2 * i] = p[0], w[2 * i + 1] = s[i];
        w += 2 * n;
    } else {
        for (ssz i = 0; i < n; i++) PART(s + i, 1);
    }
    if (nc) PART(c, nc);
#undef PART
    return out;
}

/* string_column(values) -> (data, offsets) of an Arrow string array of a list of str (UTF-8 bytes
 * joined; int32 offsets, little-endian as Arrow's), or None: a value that is not a str or has no
 * UTF-8 form, or more than 2 GB of text. writers._string_array made these with a join, an
 * encode and numpy; here it is one copy. */
static PyObject *string_column(PyObject *self, PyObject *values) {
    if (!PyList_Check(values)) {
        PyErr_SetString(PyExc_TypeError, "a list of str");
        return NULL;
    }
    static buf data = {0}, offsets = {0};
    data.n = offsets.n = 0;
    PyObject *result = NULL;
    ssz n = PyList_GET_SIZE(values);
    int32_t off = 0;
    int declined = put(&offsets, (const char *)&off, 4) < 0 ? -1 : 0;
    for (ssz i = 0; i < n && declined == 0; i++) {
        PyObject *v = PyList_GET_ITEM(values, i);
        ssz k;
        const char *p = PyUnicode_CheckExact(v) ? utf8_of(v, &k) : NULL;
        if (!p) {
            declined = PyErr_Occurred() ? -1 : 1;
            break;
        }
        if (data.n + k > INT32_MAX) {
            declined = 1;
            break;
        }
        off = (int32_t)(data.n + k);
        if (put(&data, p, k) < 0 || put(&offsets, (const char *)&off, 4) < 0) declined = -1;
    }
    if (declined == 0)
        result = Py_BuildValue("(y#y#)", data.p ? data.p : "", data.n, offsets.p, offsets.n);
    else if (declined == 1)
        result = Py_NewRef(Py_None);
    if (data.cap > (256 << 20)) release(&data);
    return result;
}

/* upper_letters(s) -> whether s is non-empty and every character is A-Z: `s.isascii() and
 * s.isalpha() and s.isupper()` in one pass (a sequence that counts a token per residue) */
static PyObject *upper_letters(PyObject *self, PyObject *s) {
    if (!PyUnicode_Check(s)) {
        PyErr_SetString(PyExc_TypeError, "a str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(s) || PyUnicode_GET_LENGTH(s) == 0) Py_RETURN_FALSE;
    const unsigned char *p = (const unsigned char *)PyUnicode_DATA(s);
    ssz n = PyUnicode_GET_LENGTH(s), i = 0;
    /* 8 bytes at a time: ASCII bytes (< 0x80, so no sum carries into the next byte) are A-Z when
     * b + 0x3F has its high bit set (b >= 0x41) and b + 0x25 has not (b < 0x5B) */
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t ge_a = w + 0x3F3F3F3F3F3F3F3FULL, gt_z = w + 0x2525252525252525ULL;
        if ((ge_a & ~gt_z & 0x8080808080808080ULL) != 0x8080808080808080ULL) Py_RETURN_FALSE;
    }
    for (; i < n; i++)
        if (p[i] < 'A' || p[i] > 'Z') Py_RETURN_FALSE;
    Py_RETURN_TRUE;
}

/* Whether `clean_text` (dataset/pretrain/swissprot.py) returns the ASCII text s as it is: every
 * byte printable (0x20-0x7e), no "  ", no space at either end, no "Note=". One pass instead of
 * str.isprintable() (no ASCII shortcut: ~1 ns a character), two substring searches and slicing;
 * 8 bytes at a time: the bytes are ASCII (< 0x80), so none of the sums below carries into the next
 * byte, and a byte's high bit tells its class exactly. */
#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

static int already_clean(const char *s, ssz n) {
    if (s[0] == ' ' || s[n - 1] == ' ') return 0;
    ssz i = 0;
    uint64_t after_space = 0; /* the previous word's last byte was a space: byte 0's high bit */
    for (; i + 8 <= n; i += 8) {
        uint64_t w = load8(s + i);
        if (((w + 0x01 * ONES) | ~(w + 0x60 * ONES)) & HIGH) return 0; /* a byte >= 0x7f or < 0x20 */
        uint64_t sp = bytes_equal(w, ' '); /* _ctext.h */
        if (sp & ((sp << 8) | after_space)) return 0; /* a space right after a space */
        after_space = sp >> 56;
        for (uint64_t nn = bytes_equal(w, 'N'); nn; nn &= nn - 1) {
            ssz at = i + (__builtin_ctzll(nn) >> 3);
            if (n - at >= 5 && memcmp(s + at, "Note=", 5) == 0) return 0;
        }
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e) return 0;
        if (c == ' ' && i > 0 && s[i - 1] == ' ') return 0;
        if (c == 'N' && n - i >= 5 && memcmp(s + i, "Note=", 5) == 0) return 0;
    }
    return 1;
}

/* section_texts(comments, sections) -> swissprot.section_texts of an entry with these comments
 * ({topic: (texts...)} for each topic of `sections` that has a non-empty text, in that order), or
 * None where a text is not ASCII or not already clean (Python cleans the entry's texts then). */
static PyObject *section_texts(PyObject *self, PyObject *args) {
    PyObject *comments, *sections;
    if (!PyArg_ParseTuple(args, "O!O!", &PyDict_Type, &comments, &PyTuple_Type, &sections)) return NULL;
    PyObject *out = PyDict_New();
    if (!out) return NULL;
    for (ssz k = 0; k < PyTuple_GET_SIZE(sections); k++) {
        PyObject *topic = PyTuple_GET_ITEM(sections, k);
        PyObject *value = PyDict_GetItemWithError(comments, topic); /* borrowed */
        if (!value) {
            if (PyErr_Occurred()) goto fail;
            continue;
        }
        PyObject *seq = PySequence_Fast(value, "comments are sequences of texts");
        if (!seq) goto fail;
        ssz m = PySequence_Fast_GET_SIZE(seq);
        PyObject *texts = PyTuple_New(m);
        if (!texts) {
            Py_DECREF(seq);
            goto fail;
        }
        ssz kept = 0;
        int declined = 0;
        for (ssz i = 0; i < m; i++) {
            PyObject *x = PySequence_Fast_GET_ITEM(seq, i);
            if (!PyUnicode_Check(x) || !PyUnicode_IS_ASCII(x)) {
                declined = 1;
                break;
            }
            ssz n = PyUnicode_GET_LENGTH(x);
            if (n == 0) continue; /* an empty text: no text */
            if (!already_clean((const char *)PyUnicode_DATA(x), n)) {
                declined = 1;
                break;
            }
            PyTuple_SET_ITEM(texts, kept++, Py_NewRef(x));
        }
        Py_DECREF(seq);
        if (declined) {
            Py_DECREF(texts);
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        if (kept && (_PyTuple_Resize(&texts, kept) < 0 || PyDict_SetItem(out, topic, texts) < 0)) {
            Py_XDECREF(texts);
            goto fail;
        }
        Py_DECREF(texts);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* _wordcount.c */
PyObject *words_new_c(PyObject *self, PyObject *args);
PyObject *words_add_c(PyObject *self, PyObject *args);
PyObject *words_len_c(PyObject *self, PyObject *capsule);
PyObject *words_clear_c(PyObject *self, PyObject *capsule);
PyObject *words_count_c(PyObject *self, PyObject *args);

static PyMethodDef methods[] = {
    {"section_texts", section_texts, METH_VARARGS,
     "section_texts(comments, sections) -> swissprot.section_texts' dict, or None (a text to clean in Python)"},
    {"upper_letters", upper_letters, METH_O, "upper_letters(s) -> s.isascii() and s.isalpha() and s.isupper()"},
    {"string_column", string_column, METH_O,
     "string_column(values) -> (data, offsets) of an Arrow string array, or None (a value not str, > 2 GB)"},
    {"words_new", words_new_c, METH_NOARGS, "words_new() -> an empty table of word forms and their token counts"},
    {"words_add", words_add_c, METH_VARARGS, "words_add(table, forms, counts): set the token counts of forms"},
    {"words_len", words_len_c, METH_O, "words_len(table) -> the number of forms held"},
    {"words_clear", words_clear_c, METH_O, "words_clear(table): forget every form"},
    {"words_count", words_count_c, METH_VARARGS,
     "words_count(table, texts, newlines, lt_unsure, fold_digits) -> (totals, missing): see _wordcount.c"},
    {"seq_text", seq_text, METH_VARARGS,
     "seq_text(seq, open_tag, close_tag, sep) -> seqtext.seq_to_text(seq, ...), or None (non-ASCII)"},
    {"encode_rows", encode_rows, METH_VARARGS,
     "encode_rows(rows, exports) -> (jsonl, alpaca, chat) as UTF-8 bytes, or None (let the Python writers do it)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rows", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__rows(void) {
    init_escape_table();
    return PyModule_Create(&module);
}
