/* Bit-parallel netlist evaluation kernel for lgn2hw's reference interpreter.
 *
 * vals is a (n_nets, words) row-major array of 64-sample words; rows 0..first-1 (constants and inputs) are
 * filled by the caller. Node i writes row first+i from the rows of its input nets. Tables use the LUT
 * convention of lgn2hw/gates.py: out = bit m of the table, m = sum(in_j << j). The generic path is a
 * Shannon expansion from the highest input down, the same one the numpy path uses. */
#include <stdint.h>

void lgn_eval(int64_t n_nodes, int64_t words, int64_t kmax, int64_t first,
              const uint8_t *arity, const int32_t *fanin, const uint64_t *tables, uint64_t *vals)
{
    for (int64_t i = 0; i < n_nodes; i++) {
        uint64_t *out = vals + (first + i) * words;
        const int32_t *f = fanin + i * kmax;
        const uint64_t t = tables[i];
        const int k = arity[i];
        if (k == 2) {
            const uint64_t *a = vals + (int64_t)f[0] * words, *b = vals + (int64_t)f[1] * words;
            const uint64_t m0 = -(t & 1), m1 = -((t >> 1) & 1), m2 = -((t >> 2) & 1), m3 = -((t >> 3) & 1);
            const uint64_t d01 = m0 ^ m1, d23 = m2 ^ m3;
            for (int64_t w = 0; w < words; w++) {
                const uint64_t x = a[w], y = b[w];
                const uint64_t lo = m0 ^ (x & d01), hi = m2 ^ (x & d23);
                out[w] = lo ^ (y & (lo ^ hi));
            }
        } else if (k == 1) {
            const uint64_t *a = vals + (int64_t)f[0] * words;
            const uint64_t m0 = -(t & 1), d = m0 ^ -((t >> 1) & 1);
            for (int64_t w = 0; w < words; w++)
                out[w] = m0 ^ (a[w] & d);
        } else if (k == 0) {
            const uint64_t m0 = -(t & 1);
            for (int64_t w = 0; w < words; w++)
                out[w] = m0;
        } else {
            const uint64_t *in[6];
            for (int j = 0; j < k; j++)
                in[j] = vals + (int64_t)f[j] * words;
            for (int64_t w = 0; w < words; w++) {
                uint64_t v[64];
                for (int m = 0; m < (1 << k); m++)
                    v[m] = -((t >> m) & 1);
                for (int j = k - 1; j >= 0; j--) {
                    const uint64_t x = in[j][w];
                    const int half = 1 << j;
                    for (int m = 0; m < half; m++)
                        v[m] ^= x & (v[m] ^ v[m + half]);
                }
                out[w] = v[0];
            }
        }
    }
}

/* GroupSum, one class at a time. The class's output rows (class_start[c] .. class_start[c+1] of out_nets,
 * each XORed with its inversion flag) are summed into a bit-sliced counter of `width` planes of `words` words:
 * plane b holds bit b of the 64 per-sample counts of every word. Sixteen rows at a time go through a
 * carry-save tree (Harley-Seal): planes 0..3 take the rows' ones, twos, fours and eights in carry-save form,
 * and only the sixteens ripple into planes 4 and up; the rows left over are added one by one. The planes are
 * then spread into counts[(sample, class)] (added to what is there). planes is scratch of (width + 1) * words:
 * the counter and a row of carries. */
static inline void csa(uint64_t *hi, uint64_t *lo, uint64_t a, uint64_t b, uint64_t c)
{
    const uint64_t u = a ^ b;
    *hi = (a & b) | (u & c);
    *lo = u ^ c;
}

/* Eight words into the running ones/twos/fours planes; returns the eights carry. */
static inline uint64_t add8(const uint64_t *x, uint64_t *ones, uint64_t *twos, uint64_t *fours)
{
    uint64_t ta, tb, fa, fb, eights;
    csa(&ta, ones, *ones, x[0], x[1]);
    csa(&tb, ones, *ones, x[2], x[3]);
    csa(&fa, twos, *twos, ta, tb);
    csa(&ta, ones, *ones, x[4], x[5]);
    csa(&tb, ones, *ones, x[6], x[7]);
    csa(&fb, twos, *twos, ta, tb);
    csa(&eights, fours, *fours, fa, fb);
    return eights;
}

static inline uint64_t row_word(const uint64_t *vals, int64_t words, const int32_t *nets,
                                const uint8_t *invert, int64_t j, int64_t w)
{
    return vals[(int64_t)nets[j] * words + w] ^ -(uint64_t)(invert[j] & 1);
}

/* Add the one-bit row x into the counter planes 0..width-1 of word w. */
static inline void ripple(uint64_t *planes, int64_t words, int64_t width, int64_t w, uint64_t x)
{
    for (int64_t b = 0; b < width && x; b++) {
        uint64_t *p = planes + b * words + w;
        const uint64_t s = *p ^ x;
        x &= *p;
        *p = s;
    }
}

void lgn_count(int64_t n_classes, int64_t words, int64_t n_samples, int64_t width,
               const int64_t *class_start, const int32_t *out_nets, const uint8_t *invert,
               const uint64_t *vals, uint64_t *planes, int64_t *counts)
{
    for (int64_t c = 0; c < n_classes; c++) {
        const int64_t first = class_start[c], last = class_start[c + 1];
        for (int64_t i = 0; i < width * words; i++)
            planes[i] = 0;
        int64_t j = first;
        if (width >= 5) {
            uint64_t *p0 = planes, *p1 = planes + words, *p2 = planes + 2 * words, *p3 = planes + 3 * words;
            uint64_t *carry = planes + width * words;
            for (; j + 16 <= last; j += 16) {
                const uint64_t *row[16];
                uint64_t flip[16];
                for (int r = 0; r < 16; r++) {
                    row[r] = vals + (int64_t)out_nets[j + r] * words;
                    flip[r] = -(uint64_t)(invert[j + r] & 1);
                }
#pragma GCC ivdep
                for (int64_t w = 0; w < words; w++) {
                    uint64_t x[16];
                    for (int r = 0; r < 16; r++)
                        x[r] = row[r][w] ^ flip[r];
                    uint64_t ones = p0[w], twos = p1[w], fours = p2[w], eights = p3[w];
                    uint64_t sixteens;
                    const uint64_t ea = add8(x, &ones, &twos, &fours);
                    const uint64_t eb = add8(x + 8, &ones, &twos, &fours);
                    csa(&sixteens, &eights, eights, ea, eb);
                    p0[w] = ones; p1[w] = twos; p2[w] = fours; p3[w] = eights;
                    carry[w] = sixteens;
                }
                for (int64_t b = 4; b < width; b++) {          /* plane by plane, so the word loops vectorise */
                    uint64_t *p = planes + b * words;
                    for (int64_t w = 0; w < words; w++) {
                        const uint64_t t = p[w] ^ carry[w];
                        carry[w] &= p[w];
                        p[w] = t;
                    }
                }
            }
        }
        for (; j < last; j++)
            for (int64_t w = 0; w < words; w++)
                ripple(planes, words, width, w, row_word(vals, words, out_nets, invert, j, w));
        for (int64_t w = 0; w < words; w++) {
            const int64_t n = n_samples - w * 64 < 64 ? n_samples - w * 64 : 64;
            for (int64_t s = 0; s < n; s++) {
                int64_t v = 0;
                for (int64_t b = 0; b < width; b++)
                    v |= (int64_t)((planes[b * words + w] >> s) & 1) << b;
                counts[(w * 64 + s) * n_classes + c] += v;
            }
        }
    }
}

/* Pack (n_samples, n_inputs) 0/1 bytes into (n_inputs, words) 64-sample words: sample s -> bit s % 64.
 * Eight samples' bytes for eight inputs, each 0 or 1, are OR-ed together shifted by 0..7: byte j of the result
 * holds those eight samples' bits of input j, which is one byte of input j's word. Inputs left over past a
 * multiple of eight, and samples past the last whole group of eight, go one bit at a time. */
#include <string.h>

void lgn_pack(int64_t n_samples, int64_t n_inputs, int64_t words, const uint8_t *bits, uint64_t *dst)
{
    uint8_t *bytes = (uint8_t *)dst;            /* little-endian words: byte g of a word = samples 8g..8g+7 */
    for (int64_t i = 0; i < n_inputs * words; i++)
        dst[i] = 0;
    const int64_t groups = n_samples / 8, in8 = n_inputs / 8 * 8;
    for (int64_t g = 0; g < groups; g++) {
        const uint8_t *rows = bits + g * 8 * n_inputs;
        const int64_t w = g / 8, byte = g % 8;
        for (int64_t i = 0; i < in8; i += 8) {
            uint64_t t = 0;
            for (int s = 0; s < 8; s++) {
                uint64_t u;
                memcpy(&u, rows + s * n_inputs + i, 8);
                t |= (u & 0x0101010101010101ULL) << s;
            }
            for (int j = 0; j < 8; j++)
                bytes[((i + j) * words + w) * 8 + byte] = (uint8_t)(t >> (8 * j));
        }
    }
    for (int64_t s = 0; s < n_samples; s++) {
        const uint8_t *row = bits + s * n_inputs;
        const int64_t w = s >> 6;
        const int sh = (int)(s & 63);
        for (int64_t i = s < groups * 8 ? in8 : 0; i < n_inputs; i++)
            dst[i * words + w] |= (uint64_t)(row[i] & 1) << sh;
    }
}
