/* The fields of one Swiss-Prot flat-file entry, read in C: the compiled twin of
 * `uniprot._flat_entry` up to the cleaning of comment texts (which stays in Python, shared with
 * the XML and TSV parsers).
 *
 * entry_fields(t, skipped_topics) takes the text `_flat_entry` takes (the "ID" line up to the line
 * before "//") and returns the tuple
 *   (accessions, entry_name, reviewed, recommended_name, alternative_names, ec_numbers,
 *    gene_names, organism, taxon_id, topics, texts, keywords, go_terms, pubmed_ids, pdb_ids,
 *    sequence)
 * with every value as `_flat_entry` computes it (topics/texts as `_cc_topics` gives them), or None
 * whenever it is not sure to: a text that is not pure ASCII (Python's whitespace and case rules
 * then differ from the ASCII ones written here), a pre-2008 DE block, anything malformed. The
 * Python parser then reads the entry and reports what is wrong. Every rule below names the Python
 * expression it reproduces; tests/test_flatfile_c.py checks the two agree, field by field.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <string.h>

#include "_ctext.h"

/* ------------------------------------------------------------------ header lines */
#define MAX_LINES 512
typedef struct {
    ssz a[MAX_LINES], b[MAX_LINES]; /* bodies t[a:b] (row[5:]) */
    int n;
} lines;

static int add_line(lines *l, ssz a, ssz b) {
    if (l->n == MAX_LINES) return 1; /* absurd entry: let Python read it */
    if (a > b) a = b;
    l->a[l->n] = a;
    l->b[l->n] = b;
    l->n++;
    return 0;
}

static const char *HEADER[] = {"ID", "AC", "DT", "DE", "GN", "OS", "OG", "OC", "OX", "OH"};

static int header_code(const char *p) {
    for (int k = 0; k < 10; k++)
        if (p[0] == HEADER[k][0] && p[1] == HEADER[k][1]) return k;
    return -1;
}

/* ------------------------------------------------------------------ DE lines */
enum { G_NONE, G_REC, G_ALT, G_SUB };

/* _parse_de for the current format; 1: the pre-2008 format (Python reads it) */
static int parse_de(const char *t, lines *de, PyObject **rec, PyObject *alts, PyObject *ecs, buf *tmp) {
    if (de->n) {
        const char *s = t + de->a[0];
        ssz n = de->b[0] - de->a[0];
        if (!starts(s, n, "RecName:") && !starts(s, n, "SubName:") && !starts(s, n, "AltName:") &&
            !starts(s, n, "Flags:"))
            return 1;
    }
    int group = G_NONE, top = 1;
    for (int i = 0; i < de->n; i++) {
        ssz a = de->a[i], end = de->b[i];
        ssz body_len = end - a;
        while (a < end && is_ws((unsigned char)t[a])) a++; /* s = body.lstrip() */
        const char *s = t + a;
        ssz n = end - a;
        ssz colon = find(s, n, ": ", 0, n); /* head, sep, rest = s.partition(": ") */
        ssz head_n = colon >= 0 ? colon : n;
        int g = equals(s, head_n, "RecName") ? G_REC : equals(s, head_n, "AltName") ? G_ALT
                : equals(s, head_n, "SubName") ? G_SUB : G_NONE;
        if (g != G_NONE) {
            group = g;
            top = body_len == n;
            if (colon >= 0) {
                s += colon + 2;
                n -= colon + 2;
            } else {
                n = 0;
            }
        } else if (starts(s, n, "Contains:") || starts(s, n, "Includes:") || starts(s, n, "Flags:")) {
            group = G_NONE;
            top = 0;
            continue;
        }
        const char *eq = memchr(s, '=', (size_t)n); /* key, eq, value = s.partition("=") */
        if (!eq) continue;
        ssz key_n = eq - s;
        ssz va = key_n + 1, vb = n;
        while (vb > va && is_ws((unsigned char)s[vb - 1])) vb--; /* value.rstrip() */
        if (vb > va && s[vb - 1] == ';') vb--;                   /* .removesuffix(";") */
        if (strip_evidence(s + va, vb - va, tmp) < 0) return -1;
        if (equals(s, key_n, "EC")) {
            if (append_str(ecs, tmp->p, tmp->n) < 0) return -1;
        } else if (!top || tmp->n == 0) {
            continue;
        } else if (equals(s, key_n, "Full") && group != G_ALT && *rec == NULL) {
            if (!(*rec = str_of(tmp->p, tmp->n))) return -1;
        } else if (equals(s, key_n, "Full") || equals(s, key_n, "Short") || equals(s, key_n, "Allergen") ||
                   equals(s, key_n, "Biotech") || equals(s, key_n, "CD_antigen") || equals(s, key_n, "INN")) {
            if (append_str(alts, tmp->p, tmp->n) < 0) return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ GN lines */
static const char *GENE_KEYS[] = {"Name", "Synonyms", "OrderedLocusNames", "ORFNames"};

/* one gene's names (text = strip_evidence(" ".join(gene)), non-empty) into `names` */
static int gene_names(const char *s, ssz n, PyObject *names) {
    if (!memchr(s, '=', (size_t)n)) { /* pre-2005: "FOS OR G0S7." */
        while (n > 0 && s[n - 1] == '.') n--; /* rstrip(".") */
        ssz i = 0;
        while (i < n) {
            while (i < n && (is_ws((unsigned char)s[i]) || s[i] == '(' || s[i] == ')')) i++;
            ssz j = i;
            while (j < n && !is_ws((unsigned char)s[j]) && s[j] != '(' && s[j] != ')') j++;
            if (j > i && !equals(s + i, j - i, "OR") && !equals(s + i, j - i, "AND"))
                if (append_str(names, s + i, j - i) < 0) return -1;
            i = j;
        }
        return 0;
    }
    /* ranked by key, file order within a key: one pass per key is the stable sort */
    for (int rank = 0; rank < 4; rank++) {
        ssz i = 0;
        piece p;
        while (next_piece(s, n, &i, &p)) {
            if (!p.eq || !equals(s + p.a, p.eq - (s + p.a), GENE_KEYS[rank])) continue;
            ssz v = p.eq - s + 1;
            while (v <= p.b) { /* value.split(",") */
                const char *comma = memchr(s + v, ',', (size_t)(p.b - v));
                ssz w = comma ? comma - s : p.b;
                ssz va = v, vb = w;
                strip(s, &va, &vb);
                if (vb > va && append_str(names, s + va, vb - va) < 0) return -1;
                v = w + 1;
            }
        }
    }
    return 0;
}

static int parse_gn(const char *t, lines *gn, PyObject *names, buf *joined, buf *tmp) {
    int g = 0;
    while (g <= gn->n) { /* genes are separated by lines whose body is "and" */
        joined->n = 0;
        int first = 1;
        for (; g < gn->n; g++) {
            ssz a = gn->a[g], b = gn->b[g];
            strip(t, &a, &b);
            if (equals(t + a, b - a, "and")) break;
            if (!first && put(joined, " ", 1) < 0) return -1;
            if (put(joined, t + a, b - a) < 0) return -1;
            first = 0;
        }
        g++; /* past the "and" line (or past the end) */
        if (strip_evidence(joined->p ? joined->p : "", joined->n, tmp) < 0) return -1;
        if (tmp->n && gene_names(tmp->p, tmp->n, names) < 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ CC lines */
/* (?!(?:and|or|nor|to)\b) fails at k */
static int conjunction_at(const char *r, ssz n, ssz k) {
    static const char *words[] = {"and", "or", "nor", "to"};
    for (int w = 0; w < 4; w++) {
        ssz m = (ssz)strlen(words[w]);
        if (k + m <= n && memcmp(r + k, words[w], (size_t)m) == 0 && (k + m == n || !is_word((unsigned char)r[k + m])))
            return 1;
    }
    return 0;
}

/* _CC_HYPHEN_WRAP.sub("-", r): r"-(?<=[^\s-]-)\nCC {7,}(?!(?:and|or|nor|to)\b)" */
static int hyphen_wrap(const char *r, ssz n, buf *out) {
    out->n = 0;
    ssz last = 0, i = 1;
    while (i + 3 < n) {
        /* a match's "-" ends a line: jump from line end to line end, not byte by byte */
        const char *nl = memchr(r + i + 1, '\n', (size_t)(n - i - 1));
        if (!nl) break;
        ssz j = nl - r;
        i = j - 1;
        if (i + 3 >= n) break;
        if (r[i] == '-' && r[j + 1] == 'C' && r[j + 2] == 'C' && r[i - 1] != '-' && !is_ws((unsigned char)r[i - 1])) {
            ssz k = i + 4;
            while (k < n && r[k] == ' ') k++;
            ssz m = k - (i + 4), end = -1;
            if (m >= 7) {
                if (!conjunction_at(r, n, k))
                    end = k;
                else if (m >= 8) /* the regex gives back one space: the look-ahead then sees it */
                    end = k - 1;
            }
            if (end > 0) {
                if (put(out, r + last, i + 1 - last) < 0) return -1;
                last = i = end;
                continue;
            }
        }
        i = j;
    }
    return put(out, r + last, n - last);
}

/* _cc_topics(region) */
static int cc_topics(const char *region, ssz n, PyObject *skipped, PyObject *topics, PyObject *texts, buf *b1,
                     buf *b2, buf *b3) {
    ssz banner = find(region, n, "\nCC   ---", 0, n);
    if (banner >= 0) n = banner;
    if (hyphen_wrap(region, n, b1) < 0) return -1;
    if (replace(b1->p, b1->n, "\nCC       ", " ", b2) < 0) return -1;
    const char *r = b2->p;
    ssz rn = b2->n;
    const char *SEP = "\nCC   -!- ";
    ssz sep_n = (ssz)strlen(SEP);
    ssz at = find(r, rn, SEP, 0, rn); /* split(SEP)[1:] */
    while (at >= 0) {
        ssz start = at + sep_n;
        ssz next = find(r, rn, SEP, start, rn);
        ssz end = next >= 0 ? next : rn;
        const char *colon = memchr(r + start, ':', (size_t)(end - start));
        ssz ta = start, tb = colon ? colon - r : end;
        ssz xa = colon ? tb + 1 : end;
        strip(r, &ta, &tb);
        PyObject *topic = str_of(r + ta, tb - ta);
        if (!topic) return -1;
        int skip = PySet_Contains(skipped, topic);
        if (skip < 0 || (!skip && PyList_Append(topics, topic) < 0)) {
            Py_DECREF(topic);
            return -1;
        }
        Py_DECREF(topic);
        if (!skip) {
            PyObject *text;
            if (memchr(r + xa, '\n', (size_t)(end - xa))) {
                if (replace(r + xa, end - xa, "\nCC   ", " ", b3) < 0) return -1;
                text = str_of(b3->p ? b3->p : "", b3->n);
            } else {
                text = str_of(r + xa, end - xa);
            }
            if (!text) return -1;
            int e = PyList_Append(texts, text);
            Py_DECREF(text);
            if (e < 0) return -1;
        }
        at = next;
    }
    return 0;
}

/* ------------------------------------------------------------------ the entry */
static const char *AFTER_CC[] = {"\nDR   ", "\nPE   ", "\nKW   ", "\nFT   ", "\nSQ   "};

/* _first(t, _AFTER_CC, start, default) */
static ssz first_after(const char *t, ssz n, ssz start, ssz dflt) {
    for (int k = 0; k < 5; k++) {
        ssz i = find(t, n, AFTER_CC[k], start, n);
        if (i >= 0) return i;
    }
    return dflt;
}

/* _DR_ID.findall(t, first, endpos) with _DR_ID = r"\nDR   \w+; ([^;\n]+);", first the "\n" of the
 * first line of a database (-1: none) and endpos the end of its last line */
static int dr_ids(const char *t, ssz n, ssz first, ssz last, PyObject *out) {
    if (first < 0) return 0;
    ssz endpos = find(t, n, "\n", last + 1, n);
    if (endpos < 0) return 0; /* findall(t, first, -1) finds nothing (t ends with a newline) */
    ssz p = first;
    while (p < endpos) {
        const char *nl = memchr(t + p, '\n', (size_t)(endpos - p));
        if (!nl) break;
        p = nl - t;
        ssz k = p + 6;
        if (k <= endpos && memcmp(t + p, "\nDR   ", 6) == 0) {
            ssz w = k;
            while (k < endpos && is_word((unsigned char)t[k])) k++;
            if (k > w && k + 2 <= endpos && t[k] == ';' && t[k + 1] == ' ') {
                ssz c = k + 2;
                k = c;
                while (k < endpos && t[k] != ';' && t[k] != '\n') k++;
                if (k > c && k < endpos && t[k] == ';') {
                    if (append_str(out, t + c, k - c) < 0) return -1;
                    p = k + 1;
                    continue;
                }
            }
        }
        p++;
    }
    return 0;
}

/* The cross-reference block in one pass over its lines, from `dr` (a "\n") to `sq`: where the
 * first KW line starts (t.find("\nKW   ", dr, sq), -1: none) and, before it, the first and last
 * "DR   GO; " and "DR   PDB; " lines (the find and rfind of each code in [dr, dr_end)). Four
 * searches of the block, each a memchr per line, cost twice this reader's other work. */
typedef struct {
    ssz kw, go_first, go_last, pdb_first, pdb_last;
} xrefs;

static void scan_xrefs(const char *t, ssz dr, ssz sq, xrefs *x) {
    x->kw = x->go_first = x->go_last = x->pdb_first = x->pdb_last = -1;
    for (ssz p = dr; p >= 0 && p + 6 <= sq;) { /* t[p] == '\n': a line starts at p + 1 */
        const char *l = t + p + 1;
        if (l[0] == 'K' && l[1] == 'W' && l[2] == ' ' && l[3] == ' ' && l[4] == ' ') {
            x->kw = p;
            return;
        }
        /* lines before sq end before it: a whole code fits in the line when it matches */
        if (l[0] == 'D' && l[1] == 'R' && l[2] == ' ' && l[3] == ' ' && l[4] == ' ') {
            if (p + 10 <= sq && memcmp(l + 5, "GO; ", 4) == 0) {
                if (x->go_first < 0) x->go_first = p;
                x->go_last = p;
            } else if (p + 11 <= sq && memcmp(l + 5, "PDB; ", 5) == 0) {
                if (x->pdb_first < 0) x->pdb_first = p;
                x->pdb_last = p;
            }
        }
        const char *nl = memchr(l, '\n', (size_t)(sq - p - 1));
        p = nl ? nl - t : -1;
    }
}

/* r"PubMed=(\w+)" findall in t[start:end]: each "=" (rarer than the "P" a search for the whole
 * word would stop at in every author list) that ends "PubMed=" */
static int pubmed_ids(const char *t, ssz start, ssz end, PyObject *out) {
    ssz from = start; /* matches start here or later: after the previous one ("PubMed=PubMed=1") */
    for (ssz p = start + 6; p < end; p++) { /* p: the "=" of a match at `from` or later */
        const char *eq = memchr(t + p, '=', (size_t)(end - p));
        if (!eq) break;
        p = eq - t;
        if (p - 6 >= from && memcmp(t + p - 6, "PubMed", 6) == 0) {
            ssz k = p + 1;
            while (k < end && is_word((unsigned char)t[k])) k++;
            if (k > p + 1) {
                if (append_str(out, t + p + 1, k - p - 1) < 0) return -1;
                from = k;
                p = k + 5; /* the next "=" that can end a match; p++ makes it k + 6 */
            }
        }
    }
    return 0;
}

/* int(s[a:b]) for a number of at most 18 digits, -1 for anything else (Python then reads the
 * entry). int() strips " " and \t-\r, not the \x1c-\x1f that str.strip and `strip` also drop. */
static long long number(const char *s, ssz a, ssz b) {
    while (a < b && (s[a] == ' ' || (s[a] >= 9 && s[a] <= 13))) a++;
    while (b > a && (s[b - 1] == ' ' || (s[b - 1] >= 9 && s[b - 1] <= 13))) b--;
    if (b <= a || b - a > 18) return -1;
    long long v = 0;
    for (ssz i = a; i < b; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static PyObject *sorted_tuple(PyObject *list) {
    if (PyList_Sort(list) < 0) return NULL;
    return PyList_AsTuple(list);
}

/* tuple(dict.fromkeys(list)) */
static PyObject *unique_tuple(PyObject *list) {
    PyObject *seen = PySet_New(NULL), *out = PyList_New(0);
    if (!seen || !out) goto fail;
    for (ssz i = 0; i < PyList_GET_SIZE(list); i++) {
        PyObject *x = PyList_GET_ITEM(list, i);
        int has = PySet_Contains(seen, x);
        if (has < 0) goto fail;
        if (!has && (PySet_Add(seen, x) < 0 || PyList_Append(out, x) < 0)) goto fail;
    }
    Py_DECREF(seen);
    PyObject *t = PyList_AsTuple(out);
    Py_DECREF(out);
    return t;
fail:
    Py_XDECREF(seen);
    Py_XDECREF(out);
    return NULL;
}

typedef struct {
    lines ac, de, gn, os, ox;
} header;

static PyObject *entry_fields(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *text, *skipped;
    ssz end = PY_SSIZE_T_MAX;
    if (!PyArg_ParseTuple(args, "UO!|n", &text, &PyFrozenSet_Type, &skipped, &end)) return NULL;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) return NULL;
#endif
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    const char *t = (const char *)PyUnicode_DATA(text);
    /* the entry is text[:end]: the caller need not copy a piece to cut its "//" line off */
    ssz n = PyUnicode_GET_LENGTH(text) < end ? PyUnicode_GET_LENGTH(text) : end < 0 ? 0 : end;

    PyObject *result = NULL, *rec = NULL, *organism = NULL, *taxon = NULL, *accs = NULL, *name = NULL;
    PyObject *alts = PyList_New(0), *ecs = PyList_New(0), *genes = PyList_New(0), *topics = PyList_New(0);
    PyObject *texts = PyList_New(0), *kws = PyList_New(0), *go = PyList_New(0), *pubmed = PyList_New(0);
    PyObject *pdb = PyList_New(0), *seq = NULL;
    buf b1 = {0}, b2 = {0}, b3 = {0}, tmp = {0};
    header hdr, *h = &hdr; /* 40 KB on the stack: no allocation per entry */
    int bail = 0;
    if (!alts || !ecs || !genes || !topics || !texts || !kws || !go || !pubmed || !pdb) goto error;
    h->ac.n = h->de.n = h->gn.n = h->os.n = h->ox.n = 0;

    /* body = _HEADER_END.search(t).start(): the first "\n" not followed by a header code */
    ssz body = -1;
    for (ssz i = 0; i < n; i++) {
        const char *nl = memchr(t + i, '\n', (size_t)(n - i));
        if (!nl) break;
        i = nl - t;
        if (i + 3 > n || header_code(t + i + 1) < 0) {
            body = i;
            break;
        }
    }
    if (body < 0) goto bail;
    for (ssz a = 0; a <= body;) { /* for row in t[:body].split("\n"): lines[row[:2]].append(row[5:]) */
        const char *nl = memchr(t + a, '\n', (size_t)(body - a));
        ssz b = nl ? nl - t : body;
        int code = b - a >= 2 ? header_code(t + a) : -1;
        if (code < 0) goto bail;
        lines *l = code == 1 ? &h->ac : code == 3 ? &h->de : code == 4 ? &h->gn : code == 5 ? &h->os
                   : code == 8 ? &h->ox : NULL;
        if (l && add_line(l, a + 5 < b ? a + 5 : b, b)) goto bail;
        a = b + 1;
    }

    /* cols = t[5:t.find("\n")].split(): cols[0] the entry name, cols[1].rstrip(";") the status */
    ssz eol0 = find(t, n, "\n", 0, n);
    PyObject *reviewed = Py_False;
    int ncols = 0;
    for (ssz k = 5; k < eol0;) {
        while (k < eol0 && is_ws((unsigned char)t[k])) k++;
        if (k >= eol0) break;
        ssz a = k;
        while (k < eol0 && !is_ws((unsigned char)t[k])) k++;
        if (ncols == 0 && !(name = str_of(t + a, k - a))) goto error;
        if (ncols == 1) {
            ssz e = k;
            while (e > a && t[e - 1] == ';') e--;
            if (equals(t + a, e - a, "Reviewed") || equals(t + a, e - a, "STANDARD")) reviewed = Py_True;
        }
        ncols++;
    }
    if (ncols < 3) goto bail;

    /* accessions = tuple(a for a in "".join(AC).replace(" ", "").split(";") if a) */
    {
        PyObject *acc_list = PyList_New(0);
        if (!acc_list) goto error;
        tmp.n = 0;
        for (int i = 0; i < h->ac.n; i++)
            for (ssz j = h->ac.a[i]; j < h->ac.b[i]; j++)
                if (t[j] != ' ' && put(&tmp, t + j, 1) < 0) {
                    Py_DECREF(acc_list);
                    goto error;
                }
        ssz a = 0;
        for (ssz j = 0; j <= tmp.n; j++) {
            if (j == tmp.n || tmp.p[j] == ';') {
                if (j > a && append_str(acc_list, tmp.p + a, j - a) < 0) {
                    Py_DECREF(acc_list);
                    goto error;
                }
                a = j + 1;
            }
        }
        accs = PyList_AsTuple(acc_list);
        Py_DECREF(acc_list);
        if (!accs) goto error;
        if (PyTuple_GET_SIZE(accs) == 0) goto bail;
    }

    int r = parse_de(t, &h->de, &rec, alts, ecs, &tmp);
    if (r < 0) goto error;
    if (r > 0) goto bail;

    /* organism = " ".join(s.strip() for s in OS), without a final "." */
    tmp.n = 0;
    for (int i = 0; i < h->os.n; i++) {
        ssz a = h->os.a[i], b = h->os.b[i];
        strip(t, &a, &b);
        if ((i && put(&tmp, " ", 1) < 0) || put(&tmp, t + a, b - a) < 0) goto error;
    }
    if (tmp.n && tmp.p[tmp.n - 1] == '.') tmp.n--;
    if (tmp.n) {
        if (!(organism = str_of(tmp.p, tmp.n))) goto error;
    } else {
        organism = Py_NewRef(Py_None);
    }

    /* int(OX[0].partition("=")[2].split(";")[0].split("{")[0].split(",")[0]) */
    if (h->ox.n) {
        ssz a = h->ox.a[0], b = h->ox.b[0];
        const char *eq = memchr(t + a, '=', (size_t)(b - a));
        a = eq ? eq - t + 1 : b;
        for (ssz j = a; j < b; j++)
            if (t[j] == ';' || t[j] == '{' || t[j] == ',') {
                b = j;
                break;
            }
        long long v = number(t, a, b);
        if (v < 0) goto bail;
        if (!(taxon = PyLong_FromLongLong(v))) goto error;
    } else {
        taxon = Py_NewRef(Py_None);
    }

    ssz sq = rfind(t, n, "\nSQ   ", body, n);
    if (sq < 0) goto bail;
    ssz cc = find(t, n, "\nCC   ", body, sq);
    ssz refs_end = cc >= 0 ? cc : first_after(t, n, body, sq);
    if (pubmed_ids(t, body, refs_end, pubmed) < 0) goto error;
    ssz dr = cc >= 0 ? first_after(t, n, cc, sq) : refs_end;
    if (cc >= 0 && cc_topics(t + cc, dr - cc, skipped, topics, texts, &b1, &b2, &b3) < 0) goto error;
    xrefs x;
    scan_xrefs(t, dr, sq, &x);
    ssz kw_at = x.kw;
    if (dr_ids(t, n, x.go_first, x.go_last, go) < 0 || dr_ids(t, n, x.pdb_first, x.pdb_last, pdb) < 0) goto error;

    if (kw_at >= 0) { /* " ".join(_block(t, "\nKW   ", kw_at)).strip() */
        b1.n = 0;
        ssz i = kw_at;
        int first = 1;
        while (i >= 0 && starts(t + i, n - i, "\nKW   ")) {
            ssz j = find(t, n, "\n", i + 1, n);
            ssz e = j >= 0 ? j : n - 1;
            if ((!first && put(&b1, " ", 1) < 0) || put(&b1, t + i + 6, e > i + 6 ? e - i - 6 : 0) < 0) goto error;
            first = 0;
            i = j;
        }
        ssz a = 0, b = b1.n;
        strip(b1.p, &a, &b);
        if (b > a && b1.p[b - 1] == '.') b--;
        if (strip_evidence(b1.p + a, b - a, &tmp) < 0) goto error;
        ssz s0 = 0; /* sorted(k.strip() for k in kw.split(";") if k.strip()) */
        for (ssz j = 0; j <= tmp.n; j++) {
            if (j == tmp.n || tmp.p[j] == ';') {
                ssz x = s0, y = j;
                strip(tmp.p, &x, &y);
                if (y > x && append_str(kws, tmp.p + x, y - x) < 0) goto error;
                s0 = j + 1;
            }
        }
    }

    /* the sequence: SQ columns, then every non-space character after the SQ line */
    {
        ssz eol = find(t, n, "\n", sq + 1, n);
        if (eol < 0) goto bail;
        ssz j = sq + 6, col = 0, len_a = 0, len_b = 0;
        while (j < eol) {
            while (j < eol && is_ws((unsigned char)t[j])) j++;
            if (j >= eol) break;
            ssz a = j;
            while (j < eol && !is_ws((unsigned char)t[j])) j++;
            if (col == 1) {
                len_a = a;
                len_b = j;
            }
            col++;
        }
        long long want = col >= 2 ? number(t, len_a, len_b) : -1;
        if (want < 0) goto bail;
        /* every character but whitespace, kept by a branch-free step per byte */
        b1.n = 0;
        if (reserve(&b1, n - eol) < 0) goto error;
        char *o = b1.p;
        ssz k = 0;
        for (ssz a = eol + 1; a < n; a++) {
            o[k] = t[a];
            k += !is_ws((unsigned char)t[a]);
        }
        b1.n = k;
        if (b1.n != want) goto bail;
        if (!(seq = str_of(b1.p ? b1.p : "", b1.n))) goto error;
    }

    /* gene names last: they are the only field that needs two scratch buffers besides tmp */
    if (parse_gn(t, &h->gn, genes, &b2, &tmp) < 0) goto error;

    {
        PyObject *alts_t = PyList_AsTuple(alts), *ecs_t = unique_tuple(ecs), *genes_t = PyList_AsTuple(genes);
        PyObject *kws_t = sorted_tuple(kws), *go_t = sorted_tuple(go), *pm_t = PyList_AsTuple(pubmed);
        PyObject *pdb_t = sorted_tuple(pdb);
        if (alts_t && ecs_t && genes_t && kws_t && go_t && pm_t && pdb_t)
            result = PyTuple_Pack(16, accs, name, reviewed, rec ? rec : Py_None, alts_t, ecs_t, genes_t, organism,
                                  taxon, topics, texts, kws_t, go_t, pm_t, pdb_t, seq);
        Py_XDECREF(alts_t);
        Py_XDECREF(ecs_t);
        Py_XDECREF(genes_t);
        Py_XDECREF(kws_t);
        Py_XDECREF(go_t);
        Py_XDECREF(pm_t);
        Py_XDECREF(pdb_t);
    }
    goto done;

bail:
    bail = 1;
error:
    result = NULL;
done:
    Py_XDECREF(rec);
    Py_XDECREF(organism);
    Py_XDECREF(taxon);
    Py_XDECREF(accs);
    Py_XDECREF(name);
    Py_XDECREF(alts);
    Py_XDECREF(ecs);
    Py_XDECREF(genes);
    Py_XDECREF(topics);
    Py_XDECREF(texts);
    Py_XDECREF(kws);
    Py_XDECREF(go);
    Py_XDECREF(pubmed);
    Py_XDECREF(pdb);
    Py_XDECREF(seq);
    release(&b1);
    release(&b2);
    release(&b3);
    release(&tmp);
    if (bail && !PyErr_Occurred()) Py_RETURN_NONE;
    return result;
}

static PyMethodDef methods[] = {
    {"entry_fields", entry_fields, METH_VARARGS,
     "entry_fields(text, skipped_topics[, end]) -> tuple of the fields of the entry text[:end], or None "
     "(let the Python parser read it)"},
    {"cut_pieces", cut_pieces_c, METH_VARARGS,
     "cut_pieces(data, line) -> (pieces, consumed, line): flat_pieces' cutting loop on bytes, see _pieces.c"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_flatfile", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__flatfile(void) { return PyModule_Create(&module); }
