// The work plan: entity normalisation, pair and triple items in an order drawn
// from the seed, rephrase chunks, the round-robin scheduler, resume keys.
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entigraph.h"
#include "rng.h"
#include "util.h"

const char *const item_kind_names[4] = {"entities", "pair", "triple", "rephrase"};

// ---- deterministic randomness ------------------------------------------------------

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static uint64_t below(uint64_t *state, uint64_t n) { return rng_next(state) % n; }   // n << 2^64

static void shuffle(WorkItem *a, int n, uint64_t *rng) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)below(rng, (uint64_t)i + 1);
        WorkItem t = a[i];
        a[i] = a[j], a[j] = t;
    }
}

// ---- string set (open addressing) -------------------------------------------------------

static size_t probe(const StrSet *s, const char *key) {
    size_t i = fnv1a(key) & (s->cap - 1);
    while (s->slots[i] && strcmp(s->slots[i], key) != 0) i = (i + 1) & (s->cap - 1);
    return i;
}

int strset_has(const StrSet *s, const char *key) { return s->cap && s->slots[probe(s, key)]; }

int strset_add(StrSet *s, const char *key) {
    if (2 * (s->n + 1) > s->cap) {   // keep the load under one half
        StrSet bigger = {xcalloc(s->cap ? s->cap * 2 : 64, sizeof(char *)), s->cap ? s->cap * 2 : 64, s->n};
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i]) bigger.slots[probe(&bigger, s->slots[i])] = s->slots[i];
        free(s->slots);
        *s = bigger;
    }
    size_t i = probe(s, key);
    if (s->slots[i]) return 0;
    s->slots[i] = xstrdup(key);
    s->n++;
    return 1;
}

void strset_free(StrSet *s) {
    for (size_t i = 0; i < s->cap; i++) free(s->slots[i]);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

// ---- entity lists and relation items ----------------------------------------------------

static char *trim_name(const char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    char *out = xmalloc(n + 1);
    memcpy(out, s, n);
    out[n] = '\0';
    // inner runs of white space (newlines included) become one space
    char *w = out;
    for (char *r = out; *r; r++)
        if (!isspace((unsigned char)*r) || (w > out && w[-1] != ' ')) *w++ = isspace((unsigned char)*r) ? ' ' : *r;
    *w = '\0';
    return out;
}

static uint64_t n_choose(uint64_t n, int k) {
    return k == 2 ? n * (n - 1) / 2 : n * (n - 1) * (n - 2) / 6;
}

static void add_item(DocPlan *dp, int *cap, WorkItem it) {
    if (dp->n_items == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        dp->items = realloc(dp->items, (size_t)*cap * sizeof *dp->items);
        if (!dp->items) die("out of memory planning work items");
    }
    dp->items[dp->n_items++] = it;
}

// want of the n-choose-3 triples, distinct, in random order. Few of many: draw
// and reject repeats; most of them: enumerate, shuffle, keep the first want.
static void sample_triples(DocPlan *dp, int *cap, int doc, int n, uint64_t want, uint64_t *rng) {
    uint64_t total = n_choose((uint64_t)n, 3);
    if (want >= total / 2) {
        int first = dp->n_items;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                for (int k = j + 1; k < n; k++)
                    add_item(dp, cap, (WorkItem){doc, KIND_TRIPLE, {i, j, k}, 0, 0});
        shuffle(dp->items + first, dp->n_items - first, rng);
        dp->n_items = first + (int)want;
        return;
    }
    StrSet seen = {0};
    while (want > 0) {
        int t[3] = {(int)below(rng, n), (int)below(rng, n), (int)below(rng, n)};
        if (t[0] == t[1] || t[1] == t[2] || t[0] == t[2]) continue;
        for (int a = 0; a < 2; a++)   // sort the three indices
            for (int b = 0; b < 2 - a; b++)
                if (t[b] > t[b + 1]) { int x = t[b]; t[b] = t[b + 1], t[b + 1] = x; }
        char key[40];
        snprintf(key, sizeof key, "%d,%d,%d", t[0], t[1], t[2]);
        if (!strset_add(&seen, key)) continue;
        add_item(dp, cap, (WorkItem){doc, KIND_TRIPLE, {t[0], t[1], t[2]}, 0, 0});
        want--;
    }
    strset_free(&seen);
}

int normalize_entities(char **names, int n, int max, char ***out) {
    char **list = xcalloc((size_t)n, sizeof *list);
    int m = 0;
    for (int i = 0; i < n && (max <= 0 || m < max); i++) {
        char *name = trim_name(names[i]);
        int repeat = name[0] == '\0';   // case-insensitive repeats: "the Queen" and "The Queen"
        for (int k = 0; k < m && !repeat; k++) repeat = strcasecmp(list[k], name) == 0;
        if (repeat) free(name);
        else list[m++] = name;
    }
    *out = list;
    return m;
}

void plan_entities(DocPlan *dp, const char *doc_id, char **entities, int n, const PlanConfig *cfg) {
    dp->n_entities = normalize_entities(entities, n, cfg->max_entities, &dp->entities);
    dp->entities_state = 2;
    int cap = 0, m = dp->n_entities;
    uint64_t rng = cfg->seed ^ fnv1a(doc_id);
    uint64_t pairs = n_choose((uint64_t)m, 2);
    int first = dp->n_items;
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++) add_item(dp, &cap, (WorkItem){0, KIND_PAIR, {i, j, 0}, 0, 0});
    shuffle(dp->items + first, dp->n_items - first, &rng);
    if (cfg->max_pairs >= 0 && (uint64_t)cfg->max_pairs < pairs) {
        dp->n_items = first + cfg->max_pairs;
        pairs = (uint64_t)cfg->max_pairs;
    }
    uint64_t triples = m >= 3 ? n_choose((uint64_t)m, 3) : 0;
    uint64_t want = cfg->max_triples == -1 ? triples
                    : cfg->max_triples == -2 ? pairs : (uint64_t)cfg->max_triples;
    if (want > triples) want = triples;
    if (want > 0) sample_triples(dp, &cap, 0, m, want, &rng);
}

static void add_chunk(DocPlan *dp, int *cap, const char *start, const char *end) {
    if (dp->n_chunks == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        dp->chunks = realloc(dp->chunks, (size_t)*cap * sizeof *dp->chunks);
        if (!dp->chunks) die("out of memory chunking a document");
    }
    size_t n = (size_t)(end - start);
    char *c = xmalloc(n + 1);
    memcpy(c, start, n);
    c[n] = '\0';
    dp->chunks[dp->n_chunks++] = c;
}

// Paragraphs (blank-line separated) packed into chunks of at most max_words words:
// a chunk ends when full, or at a paragraph end once it is half full.
void plan_rephrase(DocPlan *dp, const char *text, int max_words, int n_styles) {
    int cap_chunks = 0, cap_items = 0, words = 0;
    const char *p = text, *start = NULL;
    for (;;) {
        p += strspn(p, " \t\r\n");
        if (!*p) break;
        if (!start) start = p;
        p += strcspn(p, " \t\r\n");
        words++;
        size_t gap = strspn(p, " \t\r\n");
        int newlines = 0;
        for (size_t i = 0; i < gap; i++) newlines += p[i] == '\n';
        if (words >= max_words || p[gap] == '\0' || (newlines >= 2 && 2 * words >= max_words)) {
            add_chunk(dp, &cap_chunks, start, p);
            start = NULL;
            words = 0;
        }
    }
    for (int c = 0; c < dp->n_chunks; c++)
        for (int s = 0; s < n_styles; s++)
            add_item(dp, &cap_items, (WorkItem){0, KIND_REPHRASE, {0, 0, 0}, s, c});
    dp->entities_state = 2;
}

void plan_free(DocPlan *dp) {
    for (int i = 0; i < dp->n_entities; i++) free(dp->entities[i]);
    free(dp->entities);
    for (int i = 0; i < dp->n_chunks; i++) free(dp->chunks[i]);
    free(dp->chunks);
    free(dp->items);
    memset(dp, 0, sizeof *dp);
}

// ---- scheduler: a min-heap of documents by (next position, document index) -------------

static int before(const Scheduler *s, int a, int b) {
    int pa = s->plans[a].next, pb = s->plans[b].next;
    return pa < pb || (pa == pb && a < b);
}

static void sift_up(Scheduler *s, int i) {
    while (i > 0 && before(s, s->heap[i], s->heap[(i - 1) / 2])) {
        int p = (i - 1) / 2, t = s->heap[i];
        s->heap[i] = s->heap[p], s->heap[p] = t;
        i = p;
    }
}

static void sift_down(Scheduler *s, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && before(s, s->heap[l], s->heap[m])) m = l;
        if (r < s->n && before(s, s->heap[r], s->heap[m])) m = r;
        if (m == i) return;
        int t = s->heap[i];
        s->heap[i] = s->heap[m], s->heap[m] = t;
        i = m;
    }
}

void sched_init(Scheduler *s, const DocPlan *plans, int n_docs) {
    s->heap = xmalloc((size_t)(n_docs ? n_docs : 1) * sizeof *s->heap);
    s->n = 0;
    s->cap = n_docs;
    s->plans = plans;
}

void sched_add(Scheduler *s, int doc) {
    if (s->plans[doc].next >= s->plans[doc].n_items) return;
    s->heap[s->n++] = doc;
    sift_up(s, s->n - 1);
}

int sched_next(Scheduler *s, DocPlan *plans, WorkItem *out) {
    if (s->n == 0) return 0;
    int doc = s->heap[0];
    DocPlan *dp = &plans[doc];
    *out = dp->items[dp->next++];
    out->doc = doc;
    if (dp->next >= dp->n_items) s->heap[0] = s->heap[--s->n];
    sift_down(s, 0);
    return 1;
}

void sched_free(Scheduler *s) {
    free(s->heap);
    memset(s, 0, sizeof *s);
}

// ---- resume keys ----------------------------------------------------------------------------

char *item_key(const Corpus *c, const DocPlan *plans, const WorkItem *it, const char *const *styles) {
    const DocPlan *dp = &plans[it->doc];
    const char *parts[6] = {c->docs[it->doc].id, item_kind_names[it->kind]};
    int n = 2;
    char chunk[24];
    if (it->kind == KIND_PAIR || it->kind == KIND_TRIPLE)
        for (int k = 0; k < (it->kind == KIND_PAIR ? 2 : 3); k++) parts[n++] = dp->entities[it->ent[k]];
    if (it->kind == KIND_REPHRASE) {
        snprintf(chunk, sizeof chunk, "%d", it->chunk);
        parts[n++] = styles[it->style];
        parts[n++] = chunk;
    }
    return join_key(parts, n);
}

char *join_key(const char *const *parts, int n) {
    // each part as <length>:<bytes>: no name, whatever bytes it holds, can make two
    // items' keys equal (a separator could appear inside an entity name)
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(parts[i]) + 21;
    char *key = xmalloc(len), *w = key;
    for (int i = 0; i < n; i++) w += sprintf(w, "%zu:%s", strlen(parts[i]), parts[i]);
    *w = '\0';
    return key;
}
