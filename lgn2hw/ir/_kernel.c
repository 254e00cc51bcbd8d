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

/* GroupSum: add each output bit (XOR its inversion flag) into its class's bit-sliced counter, then spread
 * the counters into counts[(sample, class)]. planes is scratch of words * n_classes * 32 words. */
void lgn_count(int64_t n_out, int64_t words, int64_t n_samples, int64_t n_classes,
               const int32_t *out_nets, const int32_t *out_class, const uint8_t *invert,
               const uint64_t *vals, uint64_t *planes, int64_t *counts)
{
    for (int64_t i = 0; i < words * n_classes * 32; i++)
        planes[i] = 0;
    for (int64_t j = 0; j < n_out; j++) {
        const uint64_t *row = vals + (int64_t)out_nets[j] * words;
        const uint64_t flip = -(uint64_t)(invert[j] & 1);
        uint64_t *p = planes + (int64_t)out_class[j] * 32;
        for (int64_t w = 0; w < words; w++, p += n_classes * 32) {
            uint64_t carry = row[w] ^ flip;
            for (int b = 0; carry && b < 32; b++) {
                const uint64_t s = p[b] ^ carry;
                carry &= p[b];
                p[b] = s;
            }
        }
    }
    for (int64_t w = 0; w < words; w++) {
        for (int s = 0; s < 64 && w * 64 + s < n_samples; s++) {
            int64_t *row = counts + (w * 64 + s) * n_classes;
            for (int64_t c = 0; c < n_classes; c++) {
                const uint64_t *p = planes + (w * n_classes + c) * 32;
                int64_t v = 0;
                for (int b = 0; b < 32; b++)
                    v |= (int64_t)((p[b] >> s) & 1) << b;
                row[c] += v;
            }
        }
    }
}

/* Pack (n_samples, n_inputs) 0/1 bytes into (n_inputs, words) 64-sample words: sample s -> bit s % 64. */
void lgn_pack(int64_t n_samples, int64_t n_inputs, int64_t words, const uint8_t *bits, uint64_t *dst)
{
    for (int64_t i = 0; i < n_inputs * words; i++)
        dst[i] = 0;
    for (int64_t s = 0; s < n_samples; s++) {
        const uint8_t *row = bits + s * n_inputs;
        const int64_t w = s >> 6;
        const int sh = (int)(s & 63);
        for (int64_t i = 0; i < n_inputs; i++)
            dst[i * words + w] |= (uint64_t)(row[i] & 1) << sh;
    }
}
