/* text.clean_comments in C, for ASCII texts: the same steps in the same order (structured topics
 * to sentences, then `_clean` on the texts joined by "\0", then split and strip), each written as
 * the Python expression or regex it reproduces. tests/test_flatfile_c.py checks the two agree on
 * every real comment and on generated ones.
 */
#define _GNU_SOURCE
#include "_ctext.h"

/* ------------------------------------------------------------- structured topics */
#define MAX_FIELDS 64
enum { K_REACTION, K_XREF, K_EC, K_EVIDENCE, K_DIRECTION, K_NAME, K_OTHER };
static const char *FIELD_KEYS[] = {"Reaction", "Xref", "EC", "Evidence", "PhysiologicalDirection", "Name"};

typedef struct {
    int n, key[MAX_FIELDS];
    buf value[MAX_FIELDS];
} fields;

static void fields_release(fields *f) {
    for (int i = 0; i < f->n; i++) release(&f->value[i]);
    f->n = 0;
}

/* _fields(text): "Key=value;" pairs; a piece without a known key goes to the previous value as
 * ";" + piece (unstripped). 1: too many fields (Python decides) */
static int split_fields(const char *s, ssz n, fields *f, buf *tmp) {
    f->n = 0;
    if (strip_evidence(s, n, tmp) < 0) return -1;
    const char *e = tmp->p ? tmp->p : "";
    ssz i = 0;
    piece p;
    while (next_piece(e, tmp->n, &i, &p)) {
        int key = K_OTHER;
        if (p.eq)
            for (int k = 0; k < 6; k++)
                if (equals(e + p.a, p.eq - (e + p.a), FIELD_KEYS[k])) key = k;
        if (key != K_OTHER) {
            if (f->n == MAX_FIELDS) return 1;
            ssz va = p.eq - e + 1, vb = p.b;
            strip(e, &va, &vb);
            f->key[f->n] = key;
            f->value[f->n] = (buf){0};
            f->n++;
            if (put(&f->value[f->n - 1], e + va, vb - va) < 0) return -1;
        } else if (f->n && p.b > p.a) {
            buf *v = &f->value[f->n - 1];
            if (put(v, ";", 1) < 0 || put(v, e + p.start, p.end - p.start) < 0) return -1;
        }
    }
    return 0;
}

/* " ".join(s.split()) into out */
static int split_join(const char *s, ssz n, buf *out) {
    out->n = 0;
    ssz i = 0;
    while (i < n) {
        while (i < n && is_ws((unsigned char)s[i])) i++;
        ssz j = i;
        while (j < n && !is_ws((unsigned char)s[j])) j++;
        if (j > i && ((out->n && put(out, " ", 1) < 0) || put(out, s + i, j - i) < 0)) return -1;
        i = j;
    }
    return 0;
}

/* _structured(topic, text) appended to out; 1: Python decides */
static int structured(const char *topic, ssz tn, const char *s, ssz n, buf *out, buf *norm, buf *tmp, fields *f) {
    int reaction = equals(topic, tn, "CATALYTIC ACTIVITY") && find(s, n, "Reaction=", 0, n) >= 0;
    int cofactor = !reaction && equals(topic, tn, "COFACTOR") && find(s, n, "Name=", 0, n) >= 0;
    if (!reaction && !cofactor) return put(out, s, n);
    if (split_join(s, n, norm) < 0) return -1;
    const char *x = norm->p ? norm->p : "";
    ssz xn = norm->n, ra = 0, rb = xn;
    if (xn && x[0] == '[') { /* _split_molecule: "[Isoform 2]: " + rest.strip() */
        ssz end = find(x, xn, "]:", 0, xn);
        if (end > 0) {
            if (put(out, x, end + 2) < 0 || put(out, " ", 1) < 0) return -1;
            ra = end + 2;
            strip(x, &ra, &rb);
        }
    }
    const char *r = x + ra;
    ssz rn = rb - ra;
    int e;
    if (reaction) { /* _reaction(rest) */
        if ((e = split_fields(r, rn, f, tmp)) != 0) return e;
        buf *rx = NULL, *ec = NULL;
        for (int i = 0; i < f->n; i++) {
            if (f->key[i] == K_REACTION && (!rx || rx->n == 0)) rx = &f->value[i];
            if (f->key[i] == K_EC && (!ec || ec->n == 0)) ec = &f->value[i];
        }
        if (!rx || rx->n == 0) return put(out, r, rn);
        if (put(out, rx->p, rx->n) < 0) return -1;
        if (ec && ec->n)
            return (put(out, " (EC ", 5) < 0 || put(out, ec->p, ec->n) < 0 || put(out, ").", 2) < 0) ? -1 : 0;
        return put(out, ".", 1);
    }
    /* _cofactor(rest): names joined by "; ", ". ", then the note */
    ssz at = find(r, rn, "Note=", 0, rn);
    buf note = {0};
    if (at >= 0) {
        if (strip_evidence(r + at + 5, rn - at - 5, tmp) < 0) return -1;
        ssz a = 0, b = tmp->n;
        while (b > a && tmp->p[b - 1] == ';') b--; /* .rstrip(";").strip() */
        strip(tmp->p, &a, &b);
        if (put(&note, tmp->p ? tmp->p + a : "", b - a) < 0) return -1;
        rn = at;
    }
    if ((e = split_fields(r, rn, f, tmp)) != 0) {
        release(&note);
        return e;
    }
    int names = 0;
    for (int i = 0; i < f->n; i++)
        if (f->key[i] == K_NAME) {
            if ((names++ && put(out, "; ", 2) < 0) || put(out, f->value[i].p ? f->value[i].p : "", f->value[i].n) < 0) {
                release(&note);
                return -1;
            }
        }
    if (names && put(out, ". ", 2) < 0) e = -1;
    if (!e && put(out, note.p ? note.p : "", note.n) < 0) e = -1;
    release(&note);
    return e;
}

/* ------------------------------------------------------------- _clean */
/* the PubMed alternative of _DROP at s[i] == "(": r"\((?:\s*PubMed:\d+\s*,?)+\)"; its end or -1 */
static ssz pubmed_group(const char *s, ssz n, ssz i) {
    ssz j = i + 1;
    for (;;) {
        while (j < n && is_ws((unsigned char)s[j])) j++;
        if (!starts(s + j, n - j, "PubMed:")) return -1;
        j += 7;
        ssz d = j;
        while (j < n && s[j] >= '0' && s[j] <= '9') j++;
        if (j == d) return -1;
        while (j < n && is_ws((unsigned char)s[j])) j++;
        if (j < n && s[j] == ',') j++;
        if (j < n && s[j] == ')') return j + 1;
    }
}

/* _DROP.sub("", s): {ECO:...}, (PubMed:1, ...), [MIM:...], (By similarity|Probable|Potential) */
static int drop_annotations(const char *s, ssz n, buf *out) {
    out->n = 0;
    ssz last = 0, i = 0;
    while (i < n) {
        ssz end = -1;
        char c = s[i];
        if (c == '{' && starts(s + i, n - i, "{ECO:")) {
            ssz k = i + 5;
            while (k < n && s[k] != '{' && s[k] != '}') k++;
            if (k < n && s[k] == '}') end = k + 1;
        } else if (c == '(') {
            end = pubmed_group(s, n, i);
            if (end < 0) {
                static const char *words[] = {"(By similarity)", "(Probable)", "(Potential)"};
                for (int w = 0; w < 3 && end < 0; w++)
                    if (starts(s + i, n - i, words[w])) end = i + (ssz)strlen(words[w]);
            }
        } else if (c == '[' && starts(s + i, n - i, "[MIM:")) {
            const char *close = memchr(s + i + 5, ']', (size_t)(n - i - 5));
            if (close) end = close - s + 1;
        }
        if (end > 0) {
            if (put(out, s + last, i - last) < 0) return -1;
            last = i = end;
        } else {
            i++;
        }
    }
    return put(out, s + last, n - last);
}

static int is_close_punct(char c) { return c == '.' || c == ',' || c == ';' || c == ':' || c == ')'; }

/* _SPACE_BEFORE_PUNCT.sub("", s): r" (?=[.,;:)])" */
static int drop_space_before_punct(const char *s, ssz n, buf *out) {
    out->n = 0;
    if (reserve(out, n) < 0) return -1; /* the result is no longer than s */
    ssz w = 0;
    for (ssz i = 0; i < n; i++)
        if (!(s[i] == ' ' && i + 1 < n && is_close_punct(s[i + 1]))) out->p[w++] = s[i];
    out->n = w;
    return 0;
}

static int contains(const buf *b, const char *needle) { return find(b->p ? b->p : "", b->n, needle, 0, b->n) >= 0; }

/* whether `b` holds the two bytes x, y in a row (has_pair: 8 bytes at a time) */
static int contains_pair(const buf *b, char x, char y) { return b->p && has_pair(b->p, b->n, x, y); }

/* whether _SPACE_BEFORE_PUNCT matches: a space before one of ".,;:)" (most texts have none: then
 * drop_space_before_punct would only copy them) */
static int has_space_before_punct(const buf *b) {
    const char *s = b->p;
    ssz n = b->n, i = 0;
    if (!s) return 0;
    for (; i + 9 <= n; i += 8) {
        uint64_t next = load8(s + i + 1);
        uint64_t punct = bytes_equal(next, '.') | bytes_equal(next, ',') | bytes_equal(next, ';') |
                         bytes_equal(next, ':') | bytes_equal(next, ')');
        if (bytes_equal(load8(s + i), ' ') & punct) return 1;
    }
    for (; i + 1 < n; i++)
        if (s[i] == ' ' && is_close_punct(s[i + 1])) return 1;
    return 0;
}

static void swap(buf *a, buf *b) {
    buf t = *a;
    *a = *b;
    *b = t;
}

/* _clean(text) on `a` (the result ends in `a`; `b` is scratch) */
static int clean(buf *a, buf *b) {
#define SRC (a->p ? a->p : ""), a->n
    if (drop_annotations(SRC, b) < 0) return -1;
    swap(a, b);
    if (contains(a, "Note=")) {
        if (replace(SRC, "Note=", "", b) < 0) return -1;
        swap(a, b);
    }
    if (a->n && (memchr(a->p, '\n', (size_t)a->n) || memchr(a->p, '\t', (size_t)a->n) || memchr(a->p, '\r', (size_t)a->n))) {
        if (split_join(SRC, b) < 0) return -1;
        swap(a, b);
    }
    if (contains_pair(a, ' ', ' ')) { /* while "  " in text: text = text.replace("  ", " ") */
        ssz w = 0;
        for (ssz i = 0; i < a->n; i++)
            if (!(a->p[i] == ' ' && w && a->p[w - 1] == ' ')) a->p[w++] = a->p[i];
        a->n = w;
    }
    if (has_space_before_punct(a)) {
        if (drop_space_before_punct(SRC, b) < 0) return -1;
        swap(a, b);
    }
    if (contains_pair(a, '(', ' ') || contains_pair(a, '(', ')')) {
        if (replace(SRC, "( ", "(", b) < 0) return -1;
        swap(a, b);
        if (replace(SRC, "()", "", b) < 0) return -1;
        swap(a, b);
        if (drop_space_before_punct(SRC, b) < 0) return -1;
        swap(a, b);
        if (split_join(SRC, b) < 0) return -1;
        swap(a, b);
    }
    if (contains_pair(a, '.', '.')) { /* _DOUBLE_PERIOD: a run of exactly two periods becomes one */
        ssz o = 0, i = 0;
        while (i < a->n) {
            if (a->p[i] != '.') {
                a->p[o++] = a->p[i++];
                continue;
            }
            ssz j = i;
            while (j < a->n && a->p[j] == '.') j++;
            ssz keep = j - i == 2 ? 1 : j - i;
            memmove(a->p + o, a->p + i, (size_t)keep);
            o += keep;
            i = j;
        }
        a->n = o;
    }
    return 0;
#undef SRC
}

PyObject *clean_comments_c(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *topics, *texts;
    if (!PyArg_ParseTuple(args, "OO", &topics, &texts)) return NULL;
    if (!PyList_Check(topics) || !PyList_Check(texts)) Py_RETURN_NONE;
    ssz n = PyList_GET_SIZE(topics) < PyList_GET_SIZE(texts) ? PyList_GET_SIZE(topics) : PyList_GET_SIZE(texts);
    for (ssz i = 0; i < n; i++) { /* zip(topics, texts): ASCII str only, else Python decides */
        PyObject *t = PyList_GET_ITEM(topics, i), *x = PyList_GET_ITEM(texts, i);
        if (!PyUnicode_Check(t) || !PyUnicode_Check(x) || !PyUnicode_IS_ASCII(t) || !PyUnicode_IS_ASCII(x))
            Py_RETURN_NONE;
        if (memchr(PyUnicode_DATA(x), 0, (size_t)PyUnicode_GET_LENGTH(x))) Py_RETURN_NONE; /* the separator */
    }
    buf a = {0}, b = {0}, norm = {0}, tmp = {0};
    fields *f = PyMem_Malloc(sizeof(fields));
    PyObject *out = NULL;
    int e = f ? 0 : -1;
    if (!f) PyErr_NoMemory();
    if (f) f->n = 0;
    for (ssz i = 0; i < n && !e; i++) { /* "\0".join(_structured(t, x) for ...) */
        PyObject *t = PyList_GET_ITEM(topics, i), *x = PyList_GET_ITEM(texts, i);
        if (i && put(&a, "", 1) < 0) e = -1;
        if (!e)
            e = structured(PyUnicode_DATA(t), PyUnicode_GET_LENGTH(t), PyUnicode_DATA(x), PyUnicode_GET_LENGTH(x), &a,
                           &norm, &tmp, f);
        if (f) fields_release(f);
    }
    if (!e) e = clean(&a, &b);
    if (!e && (out = PyList_New(0))) { /* [x.strip() for x in text.split("\0")] */
        const char *s = a.p ? a.p : "";
        ssz i = 0;
        for (;;) {
            const char *z = memchr(s + i, 0, (size_t)(a.n - i));
            ssz j = z ? z - s : a.n, x = i, y = j;
            strip(s, &x, &y);
            if (append_str(out, s + x, y - x) < 0) {
                Py_CLEAR(out);
                break;
            }
            if (!z) break;
            i = j + 1;
        }
    }
    release(&a);
    release(&b);
    release(&norm);
    release(&tmp);
    PyMem_Free(f);
    if (e > 0 && !PyErr_Occurred()) Py_RETURN_NONE;
    return e < 0 ? NULL : out;
}

/* group_texts(topics, texts) -> uniprot._comments' grouping: {topic: (text, ...)} of the non-empty
 * texts (str), topics in first-seen order; None where an item is not a str (Python groups). A dict
 * of lists built by setdefault and turned into tuples cost ~3 us an entry in Python. */
PyObject *group_texts_c(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *topics, *texts;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &topics, &PyList_Type, &texts)) return NULL;
    ssz n = PyList_GET_SIZE(topics) < PyList_GET_SIZE(texts) ? PyList_GET_SIZE(topics) : PyList_GET_SIZE(texts);
    PyObject *lists = PyDict_New();
    if (!lists) return NULL;
    for (ssz i = 0; i < n; i++) {
        PyObject *topic = PyList_GET_ITEM(topics, i), *text = PyList_GET_ITEM(texts, i);
        if (!PyUnicode_CheckExact(topic) || !PyUnicode_CheckExact(text)) {
            Py_DECREF(lists);
            Py_RETURN_NONE;
        }
        if (PyUnicode_GET_LENGTH(text) == 0) continue;
        PyObject *list = PyDict_GetItemWithError(lists, topic); /* borrowed */
        if (!list) {
            if (PyErr_Occurred() || !(list = PyList_New(0)) || PyDict_SetItem(lists, topic, list) < 0) {
                Py_XDECREF(list);
                Py_DECREF(lists);
                return NULL;
            }
            Py_DECREF(list); /* the dict holds it */
        }
        if (PyList_Append(list, text) < 0) {
            Py_DECREF(lists);
            return NULL;
        }
    }
    /* the lists become tuples, in place: the keys and their order stay */
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(lists, &pos, &key, &value)) {
        PyObject *tuple = PyList_AsTuple(value);
        if (!tuple || PyDict_SetItem(lists, key, tuple) < 0) {
            Py_XDECREF(tuple);
            Py_DECREF(lists);
            return NULL;
        }
        Py_DECREF(tuple);
    }
    return lists;
}
