/* Priority-cut enumeration for lgn2hw's LUT mapper (lgn2hw/passes/lutmap.py), one round over all nodes.
 *
 * The same computation as _Mapper.enumerate in lutmap.py, which serves where no C compiler is: for each node in
 * topological order, the k-feasible unions of its fanins' cut sets (a constant fanin offers the empty cut, an
 * input its trivial cut, a node its trivial cut and its priority cuts), scored, sorted, and the best `limit`
 * kept, skipping any cut that contains one already kept. A node wider than k gets its non-constant fanins as its
 * one cut. Scores: mode 0 (depth) sorts by (level, size, area flow, cut), mode 1 (area flow) by
 * (level > required, area flow, level, size, cut); cuts compare as sorted tuples. The area flow is summed in
 * the cut's order, as Python's sum does, so both give the same bits.
 *
 * Per net: level, flow, required (n_nets); fanout (n_nets); cuts (n_nets * limit * 6 nets), cut_len
 * (n_nets * limit), n_cuts (n_nets), all indexed by net. Returns 0, -1 when memory ran out, or -2 for
 * a limit above 16 or cuts wider than 6. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t n;
    int32_t x[6];
    int32_t level;
    double flow;
} cut_t;

static int cmp_cut_nets(const cut_t *a, const cut_t *b)
{
    const int32_t m = a->n < b->n ? a->n : b->n;
    for (int32_t i = 0; i < m; i++)
        if (a->x[i] != b->x[i])
            return a->x[i] < b->x[i] ? -1 : 1;
    return (a->n > b->n) - (a->n < b->n);
}

static int cmp_nets_qsort(const void *a, const void *b)
{
    return cmp_cut_nets((const cut_t *)a, (const cut_t *)b);
}

static int g_mode;
static int32_t g_req;

static int cmp_score(const void *pa, const void *pb)
{
    const cut_t *a = pa, *b = pb;
    if (g_mode == 0) {
        if (a->level != b->level) return a->level < b->level ? -1 : 1;
        if (a->n != b->n) return a->n < b->n ? -1 : 1;
        if (a->flow != b->flow) return a->flow < b->flow ? -1 : 1;
    } else {
        const int la = a->level > g_req, lb = b->level > g_req;
        if (la != lb) return la < lb ? -1 : 1;
        if (a->flow != b->flow) return a->flow < b->flow ? -1 : 1;
        if (a->level != b->level) return a->level < b->level ? -1 : 1;
        if (a->n != b->n) return a->n < b->n ? -1 : 1;
    }
    return cmp_cut_nets(a, b);
}

/* a ∪ b into out; 0 when it has more than k nets. */
static int merge(const cut_t *a, const cut_t *b, int k, cut_t *out)
{
    int i = 0, j = 0, n = 0;
    while (i < a->n || j < b->n) {
        int32_t v;
        if (j >= b->n || (i < a->n && a->x[i] < b->x[j]))
            v = a->x[i++];
        else if (i >= a->n || b->x[j] < a->x[i])
            v = b->x[j++];
        else {
            v = a->x[i++];
            j++;
        }
        if (n == k)
            return 0;
        out->x[n++] = v;
    }
    out->n = n;
    return 1;
}

static int subset(const cut_t *small, const cut_t *big)
{
    int j = 0;
    for (int i = 0; i < small->n; i++) {
        while (j < big->n && big->x[j] < small->x[i])
            j++;
        if (j == big->n || big->x[j] != small->x[i])
            return 0;
        j++;
    }
    return 1;
}

typedef struct {
    cut_t *v;
    int64_t n, cap;
} buf_t;

static int push(buf_t *b, const cut_t *c)
{
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 256;
        cut_t *v = realloc(b->v, cap * sizeof(cut_t));
        if (!v)
            return 0;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *c;
    return 1;
}

static void unique(buf_t *b)
{
    if (b->n < 2)
        return;
    qsort(b->v, b->n, sizeof(cut_t), cmp_nets_qsort);
    int64_t w = 1;
    for (int64_t i = 1; i < b->n; i++)
        if (cmp_cut_nets(&b->v[i], &b->v[w - 1]) != 0)
            b->v[w++] = b->v[i];
    b->n = w;
}

int lgn_cuts(int64_t n_nodes, int64_t first, int64_t kmax, const uint8_t *arity, const int32_t *fanin,
             const uint8_t *constant, int64_t k, int64_t limit, int64_t mode, int32_t *level, double *flow,
             const int32_t *fanout, const int32_t *required, int32_t *cuts, uint8_t *cut_len, uint8_t *n_cuts)
{
    buf_t cur = {0}, nxt = {0};
    cut_t opts[17];                     /* a fanin's options: trivial cut + at most `limit` (<= 16) priority cuts */
    int rc = 0;
    if (limit < 1 || limit > 16 || k < 1 || k > 6 || kmax > 6)
        return -2;
    g_mode = (int)mode;
    for (int64_t i = 0; i < n_nodes; i++) {
        const int64_t net = first + i;
        if (constant[net])
            continue;
        const int32_t *f = fanin + i * kmax;
        cur.n = 0;
        cut_t empty = {0};
        if (!push(&cur, &empty)) { rc = -1; break; }
        for (int j = 0; j < arity[i]; j++) {
            const int32_t x = f[j];
            int n_opts = 0;
            if (constant[x]) {
                opts[n_opts++] = empty;
            } else {
                cut_t t = {0};
                t.n = 1;
                t.x[0] = x;
                opts[n_opts++] = t;
                if (x >= first)
                    for (int c = 0; c < n_cuts[x]; c++) {
                        cut_t u = {0};
                        u.n = cut_len[x * limit + c];
                        memcpy(u.x, cuts + (x * limit + c) * 6, u.n * sizeof(int32_t));
                        opts[n_opts++] = u;
                    }
            }
            nxt.n = 0;
            for (int64_t a = 0; a < cur.n; a++)
                for (int b = 0; b < n_opts; b++) {
                    cut_t u = {0};
                    if (merge(&cur.v[a], &opts[b], (int)k, &u) && !push(&nxt, &u)) { rc = -1; goto done; }
                }
            unique(&nxt);
            buf_t t = cur; cur = nxt; nxt = t;
        }
        if (cur.n == 0) {               /* wider than a LUT on its own: its non-constant fanins are its cut */
            cut_t u = {0};
            for (int j = 0; j < arity[i]; j++) {
                const int32_t x = f[j];
                int p = u.n;            /* sorted insert, duplicates dropped (a Python set, sorted) */
                while (p > 0 && u.x[p - 1] > x)
                    p--;
                if (constant[x] || (p > 0 && u.x[p - 1] == x))
                    continue;
                memmove(u.x + p + 1, u.x + p, (u.n - p) * sizeof(int32_t));
                u.x[p] = x;
                u.n++;
            }
            if (!push(&cur, &u)) { rc = -1; break; }
        }
        for (int64_t a = 0; a < cur.n; a++) {
            cut_t *c = &cur.v[a];
            int32_t lv = 0;
            double s = 0.0;
            for (int j = 0; j < c->n; j++) {
                if (level[c->x[j]] > lv)
                    lv = level[c->x[j]];
                s += flow[c->x[j]] / fanout[c->x[j]];
            }
            c->level = 1 + lv;
            c->flow = 1.0 + s;
        }
        g_req = required[net];
        qsort(cur.v, cur.n, sizeof(cut_t), cmp_score);
        int kept = 0;
        for (int64_t a = 0; a < cur.n && kept < limit; a++) {
            int dominated = 0;
            for (int b = 0; b < kept && !dominated; b++) {
                cut_t d = {0};
                d.n = cut_len[net * limit + b];
                memcpy(d.x, cuts + (net * limit + b) * 6, d.n * sizeof(int32_t));
                dominated = subset(&d, &cur.v[a]);
            }
            if (dominated)
                continue;
            cut_len[net * limit + kept] = (uint8_t)cur.v[a].n;
            memcpy(cuts + (net * limit + kept) * 6, cur.v[a].x, cur.v[a].n * sizeof(int32_t));
            kept++;
        }
        n_cuts[net] = (uint8_t)kept;
        level[net] = cur.v[0].level;
        flow[net] = cur.v[0].flow;
    }
done:
    free(cur.v);
    free(nxt.v);
    return rc;
}
