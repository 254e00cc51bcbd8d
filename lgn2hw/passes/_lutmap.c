/* lgn2hw's LUT mapper (lgn2hw/passes/lutmap.py) in C: the same cuts, cover and truth tables as the Python
 * _Mapper, which serves where no C compiler is (tests compare the two netlist for netlist).
 *
 * Cut enumeration (one round over all nodes): for each node in topological order, the k-feasible unions of its
 * fanins' cut sets (a constant fanin offers the empty cut, an input its trivial cut, a node its trivial cut and
 * its priority cuts), scored, sorted, and the best `limit` kept, skipping any cut that contains one already
 * kept. A node wider than k gets its non-constant fanins as its one cut. Scores: mode 0 (depth) sorts by
 * (level, size, area flow, cut), mode 1 (area flow) by (level > required, area flow, level, size, cut); cuts
 * compare as sorted tuples. The area flow is summed in the cut's order, as Python's sum does, so both give the
 * same bits. Then the cover (reference counts from the outputs), required levels, exact area, and each covered
 * node's truth table over its leaves. Arrays are indexed by net. */
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

#define INF_LEVEL (1 << 30)   /* lutmap.py's _INF: no required level */

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

static int enumerate_round(int64_t n_nodes, int64_t first, int64_t kmax, const uint8_t *arity,
                           const int32_t *fanin, const uint8_t *constant, int64_t k, int64_t limit, int64_t mode,
                           int32_t *level, double *flow, const int32_t *fanout, const int32_t *required,
                           int32_t *cuts, uint8_t *cut_len, uint8_t *n_cuts)
{
    buf_t cur = {0}, nxt = {0};
    cut_t opts[17];                     /* a fanin's options: trivial cut + at most `limit` (<= 16) priority cuts */
    int rc = 0;
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

/* ---- the cover: reference counts, required levels, exact area, cone tables ---------------------------------- */

typedef struct {
    int64_t n_nets, first, limit;
    const uint8_t *constant;
    const int32_t *out_nets;
    int64_t n_out;
    int32_t *cuts;          /* priority cuts (n_nets * limit * 6) */
    uint8_t *cut_len, *n_cuts;
    int32_t *best;          /* chosen cut of each node net (n_nets * 6) and its size */
    uint8_t *best_len;
    int32_t *refs, *level, *required, *fanout, *stack;
} cover_t;

static void choose(cover_t *m, int64_t net, int c)
{
    m->best_len[net] = m->cut_len[net * m->limit + c];
    memcpy(m->best + net * 6, m->cuts + (net * m->limit + c) * 6, m->best_len[net] * sizeof(int32_t));
}

static int is_node(const cover_t *m, int32_t x)
{
    return x >= m->first && !m->constant[x];
}

/* Python's select_cover: references of the cover the chosen cuts induce, from the outputs down; the fanout
 * estimate of the next area-flow round is each net's references, at least one. */
static void select_cover(cover_t *m)
{
    memset(m->refs, 0, m->n_nets * sizeof(int32_t));
    for (int64_t o = 0; o < m->n_out; o++)
        m->refs[m->out_nets[o]]++;
    for (int64_t net = m->n_nets - 1; net >= m->first; net--)
        if (m->refs[net] && !m->constant[net])
            for (int j = 0; j < m->best_len[net]; j++)
                m->refs[m->best[net * 6 + j]]++;
    for (int64_t net = 0; net < m->n_nets; net++)
        m->fanout[net] = m->refs[net] > 1 ? m->refs[net] : 1;
}

static int32_t cover_depth(const cover_t *m)
{
    int32_t d = 0;
    for (int64_t o = 0; o < m->n_out; o++)
        if (m->out_nets[o] >= m->first && m->level[m->out_nets[o]] > d)
            d = m->level[m->out_nets[o]];
    return d;
}

/* The leaves of net's chosen cut must arrive one level before net is required. */
static void require_leaves(cover_t *m, int64_t net)
{
    for (int j = 0; j < m->best_len[net]; j++) {
        const int32_t x = m->best[net * 6 + j];
        if (m->required[net] - 1 < m->required[x])
            m->required[x] = m->required[net] - 1;
    }
}

static void required_levels(cover_t *m, int32_t depth)
{
    for (int64_t net = 0; net < m->n_nets; net++)
        m->required[net] = INF_LEVEL;
    for (int64_t o = 0; o < m->n_out; o++)
        m->required[m->out_nets[o]] = depth;
    for (int64_t net = m->n_nets - 1; net >= m->first; net--)
        if (m->refs[net] && !m->constant[net])
            require_leaves(m, net);
}

/* Add (step 1) or remove (step -1) the cone of net's chosen cut in the cover; the number of LUTs that changes.
 * A node enters (leaves) the cover when its references go 0 -> 1 (1 -> 0); the count does not depend on the
 * order of the walk, so an explicit stack serves where Python recurses. */
static int64_t ref_cone(cover_t *m, int64_t net, int step)
{
    int64_t area = 1, top = 0;
    m->stack[top++] = (int32_t)net;
    while (top) {
        const int32_t n = m->stack[--top];
        for (int j = 0; j < m->best_len[n]; j++) {
            const int32_t x = m->best[n * 6 + j];
            m->refs[x] += step;
            if (m->refs[x] == (step > 0 ? 1 : 0) && is_node(m, x)) {
                area++;
                m->stack[top++] = x;
            }
        }
    }
    return area;
}

static int32_t cut_level(const cover_t *m, const int32_t *x, int n)
{
    int32_t lv = 0;
    for (int j = 0; j < n; j++)
        if (m->level[x[j]] > lv)
            lv = m->level[x[j]];
    return 1 + lv;
}

/* Python's exact_area: each covered node, in topological order, takes the cut that adds the fewest LUTs within
 * its required level (ties: lower level, fewer leaves, earlier cut); with none, the lowest-level cut. */
static void exact_area(cover_t *m)
{
    for (int64_t net = m->first; net < m->n_nets; net++) {
        if (m->constant[net])
            continue;
        if (!m->refs[net]) {
            m->level[net] = cut_level(m, m->best + net * 6, m->best_len[net]);
            continue;
        }
        ref_cone(m, net, -1);
        int best_c = -1;
        int64_t best_area = 0;
        int32_t best_lv = 0;
        int best_n = 0;
        for (int c = 0; c < m->n_cuts[net]; c++) {
            const int32_t *x = m->cuts + (net * m->limit + c) * 6;
            const int n = m->cut_len[net * m->limit + c];
            const int32_t lv = cut_level(m, x, n);
            if (lv > m->required[net])
                continue;
            choose(m, net, c);
            const int64_t area = ref_cone(m, net, 1);
            ref_cone(m, net, -1);
            if (best_c < 0 || area < best_area || (area == best_area && (lv < best_lv ||
                                                                        (lv == best_lv && n < best_n)))) {
                best_c = c;
                best_area = area;
                best_lv = lv;
                best_n = n;
            }
        }
        if (best_c < 0) {
            int32_t low = 0;
            for (int c = 0; c < m->n_cuts[net]; c++) {
                const int32_t lv = cut_level(m, m->cuts + (net * m->limit + c) * 6, m->cut_len[net * m->limit + c]);
                if (best_c < 0 || lv < low) {
                    best_c = c;
                    low = lv;
                }
            }
        }
        choose(m, net, best_c);
        m->level[net] = cut_level(m, m->best + net * 6, m->best_len[net]);
        ref_cone(m, net, 1);
        require_leaves(m, net);
    }
}

/* One table over 64 patterns at once: Shannon expansion from the highest input down (gates.evaluate_words). */
static uint64_t eval_table(uint64_t table, int a, const uint64_t *in)
{
    uint64_t v[64];
    for (int t = 0; t < (1 << a); t++)
        v[t] = (table >> t) & 1 ? ~(uint64_t)0 : 0;
    for (int j = a - 1; j >= 0; j--) {
        const int half = 1 << j;
        for (int t = 0; t < half; t++)
            v[t] ^= in[j] & (v[t] ^ v[t + half]);
    }
    return v[0];
}

/* The truth table of each covered node over its cut's leaves (LUT convention: bit p is the output when leaf j
 * is bit j of p), by simulating its cone on every leaf pattern; the cone's nets are found by a walk that stops at
 * the leaves and constants, then evaluated in ascending (topological) order. */
static int cone_tables(cover_t *m, int64_t kmax, const uint8_t *arity, const int32_t *fanin,
                        const uint64_t *tables, uint64_t *out, uint64_t *val, int32_t *stamp, int32_t *cone)
{
    static const uint64_t leaf_bits[6] = {0xAAAAAAAAAAAAAAAAull, 0xCCCCCCCCCCCCCCCCull, 0xF0F0F0F0F0F0F0F0ull,
                                          0xFF00FF00FF00FF00ull, 0xFFFF0000FFFF0000ull, 0xFFFFFFFF00000000ull};
    int32_t mark = 0;
    for (int64_t net = m->first; net < m->n_nets; net++) {
        if (!m->refs[net] || m->constant[net])
            continue;
        const int n = m->best_len[net];
        const uint64_t full = n == 6 ? ~(uint64_t)0 : (((uint64_t)1 << (1 << n)) - 1);
        mark++;
        stamp[0] = stamp[1] = mark;
        val[0] = 0;
        val[1] = full;
        for (int j = 0; j < n; j++) {
            const int32_t x = m->best[net * 6 + j];
            stamp[x] = mark;
            val[x] = leaf_bits[j] & full;
        }
        int64_t top = 0, size = 0;
        m->stack[top++] = (int32_t)net;
        stamp[net] = mark;
        while (top) {
            const int32_t x = m->stack[--top];
            cone[size++] = x;
            const int64_t i = x - m->first;
            for (int j = 0; j < arity[i]; j++) {
                const int32_t y = fanin[i * kmax + j];
                if (stamp[y] != mark) {
                    if (y < m->first)
                        return -3;      /* an input that is not a leaf: the cut does not separate the cone */
                    stamp[y] = mark;
                    m->stack[top++] = y;
                }
            }
        }
        /* ascending net order is topological; an insertion sort is enough for cones of a few dozen nets */
        for (int64_t a = 1; a < size; a++) {
            const int32_t x = cone[a];
            int64_t b = a;
            while (b > 0 && cone[b - 1] > x) {
                cone[b] = cone[b - 1];
                b--;
            }
            cone[b] = x;
        }
        for (int64_t a = 0; a < size; a++) {
            const int32_t x = cone[a];
            const int64_t i = x - m->first;
            uint64_t in[6];
            for (int j = 0; j < arity[i]; j++)
                in[j] = val[fanin[i * kmax + j]];
            val[x] = eval_table(tables[i], arity[i], in) & full;
        }
        out[net] = val[net];
    }
    return 0;
}

/* The whole mapping (lut_map in lutmap.py): a depth round, an area-flow round, exact area, then the cone tables.
 * Inputs as lgn_cuts's; fanout holds the netlist's fanout (at least 1) and is overwritten. Outputs per net:
 * best (n_nets * 6) and best_len, refs (> 0: in the cover), table (covered nodes), and *depth. Returns 0, -1 when
 * memory ran out, -2 for a limit above 16 or cuts wider than 6, -3 if a cone reached an input that is not one of
 * its leaves (never, for cuts this enumerator made). */
int lgn_lutmap(int64_t n_nodes, int64_t first, int64_t kmax, const uint8_t *arity, const int32_t *fanin,
               const uint64_t *tables, const uint8_t *constant, const int32_t *out_nets, int64_t n_out, int64_t k,
               int64_t limit, int32_t *fanout, int32_t *best, uint8_t *best_len, int32_t *refs, uint64_t *table,
               int32_t *depth)
{
    if (limit < 1 || limit > 16 || k < 1 || k > 6 || kmax > 6)
        return -2;
    const int64_t n_nets = first + n_nodes;
    cover_t m = {0};
    m.n_nets = n_nets;
    m.first = first;
    m.limit = limit;
    m.constant = constant;
    m.out_nets = out_nets;
    m.n_out = n_out;
    m.cuts = malloc(n_nets * limit * 6 * sizeof(int32_t));
    m.cut_len = calloc(n_nets * limit, 1);
    m.n_cuts = calloc(n_nets, 1);
    m.best = best;
    m.best_len = best_len;
    m.refs = refs;
    m.fanout = fanout;
    m.level = calloc(n_nets, sizeof(int32_t));
    m.required = malloc(n_nets * sizeof(int32_t));
    m.stack = malloc((n_nets + 1) * sizeof(int32_t));
    double *flow = calloc(n_nets, sizeof(double));
    uint64_t *val = malloc(n_nets * sizeof(uint64_t));
    int32_t *stamp = calloc(n_nets, sizeof(int32_t));
    int32_t *cone = malloc((n_nets + 1) * sizeof(int32_t));
    int rc = -1;
    if (!m.cuts || !m.cut_len || !m.n_cuts || !m.level || !m.required || !m.stack || !flow || !val || !stamp ||
        !cone)
        goto done;
    for (int64_t net = 0; net < n_nets; net++)
        m.required[net] = INF_LEVEL;
    for (int round = 0; round < 2; round++) {
        rc = enumerate_round(n_nodes, first, kmax, arity, fanin, constant, k, limit, round, m.level, flow,
                             m.fanout, m.required, m.cuts, m.cut_len, m.n_cuts);
        if (rc)
            goto done;
        for (int64_t net = first; net < n_nets; net++)
            if (!constant[net])
                choose(&m, net, 0);
        select_cover(&m);
        if (round == 0)
            *depth = cover_depth(&m);
        required_levels(&m, *depth);
    }
    exact_area(&m);
    rc = cone_tables(&m, kmax, arity, fanin, tables, table, val, stamp, cone);
done:
    free(m.cuts);
    free(m.cut_len);
    free(m.n_cuts);
    free(m.level);
    free(m.required);
    free(m.stack);
    free(flow);
    free(val);
    free(stamp);
    free(cone);
    return rc;
}
