/* Direct periodic (circular) 2-D cross-correlation for few channels and small batches (CPU inference).
 *
 * Compiled on first use by efnn_core/nets/_native.py (cc -O3 -march=native) and called through ctypes.
 * ATen runs 3-channel 5x5 convolutions at a few percent of the cores' peak: oneDNN's kernels are made
 * for many channels and its grouped ones are slower still.  Here, per output row, a block of up to OB
 * output channels x CB VW columns is accumulated in vector registers (GNU C vector extensions: AVX-512,
 * AVX2 or NEON, whatever -march=native offers): each input vector loaded serves every output channel of
 * the block, each weight every column.  The symmetrization layer has a fused kernel of its own.
 * Plain arithmetic, no fast-math: results differ from ATen's only by the order of the float sums.
 */
#include <stddef.h>
#include <string.h>

#define VW 8  /* floats per vector (256 bits; Zen 4 runs 512-bit FMAs as two of these anyway) */
#define CB 8  /* at most this many vectors of columns per block */
#define OB 4  /* output channels per block, kept in registers */
typedef float vec __attribute__((vector_size(VW * sizeof(float))));

/* ws: (nmaps, P, PW), P = L + k - 1 rows, PW >= ceil(L / VW) * VW + k - 1 columns (the tail is zero) */
static void pad(const float *x, float *ws, int nmaps, int L, int k, int P, int PW) {
    int h = k / 2;
    for (int m = 0; m < nmaps; m++)
        for (int r = 0; r < P; r++) {
            const float *xr = x + ((size_t)m * L + ((r - h) % L + L) % L) * L;
            float *wr = ws + ((size_t)m * P + r) * PW;
            for (int c = 0; c < h; c++) wr[c] = xr[((c - h) % L + L) % L];
            memcpy(wr + h, xr, (size_t)L * sizeof(float));
            for (int c = h + L; c < P; c++) wr[c] = xr[(c - h) % L];
            memset(wr + P, 0, (size_t)(PW - P) * sizeof(float));
        }
}

/* One block: outputs o0 .. o0 + no - 1 (no <= ob) of map group g, configuration n, columns c0 .. c0 + cb VW - 1
 * of every row.  Inlined with constant ob and cb, so the ob x cb accumulator vectors stay in registers and each
 * input vector loaded serves ob outputs, each weight broadcast cb vectors. */
static inline __attribute__((always_inline)) void block(const float *ws, const float *w, const float *b, float *y,
                                                        int n, int g, int o0, int no, int c0, int G, int ci, int co,
                                                        int L, int k, int P, int PW, const int ob, const int cb) {
    int kk = k * k;
    const float *wg = w + (size_t)(g * co + o0) * ci * kk;
    for (int r = 0; r < L; r++) {
        vec acc[OB][CB];
        for (int o = 0; o < ob; o++) {
            float b0 = (b && o < no) ? b[g * co + o0 + o] : 0.0f;
            for (int v = 0; v < cb; v++)
                for (int j = 0; j < VW; j++) acc[o][v][j] = b0;
        }
        for (int i = 0; i < ci; i++)
            for (int dy = 0; dy < k; dy++) {
                const float *xr = ws + (((size_t)(n * G + g) * ci + i) * P + r + dy) * PW + c0;
                const float *wr = wg + (size_t)i * kk + dy * k;
                for (int dx = 0; dx < k; dx++) {
                    vec xv[CB];
                    for (int v = 0; v < cb; v++) memcpy(&xv[v], xr + dx + v * VW, sizeof(vec));
                    for (int o = 0; o < ob; o++) {  /* constant trip counts */
                        float wv = o < no ? wr[(size_t)o * ci * kk + dx] : 0.0f;
                        for (int v = 0; v < cb; v++) acc[o][v] += wv * xv[v];
                    }
                }
            }
        for (int o = 0; o < no; o++)
            for (int v = 0; v < cb; v++) {
                int c = c0 + v * VW, nc = L - c < VW ? L - c : VW;
                if (nc > 0)
                    memcpy(y + (((size_t)n * G * co + g * co + o0 + o) * L + r) * L + c, &acc[o][v],
                           (size_t)nc * sizeof(float));
            }
    }
}

/* block() for ob outputs over all columns, in chunks of at most CB vectors (the chunk width a constant). */
#define CHUNK(cb) block(ws, w, b, y, n, g, o0, no, c0, G, ci, co, L, k, P, PW, ob, cb)
static inline __attribute__((always_inline)) void row_blocks(const float *ws, const float *w, const float *b,
                                                             float *y, int n, int g, int o0, int no, int G, int ci,
                                                             int co, int L, int k, int P, int PW, const int ob) {
    for (int c0 = 0; c0 < L; c0 += CB * VW) {
        switch ((L - c0 + VW - 1) / VW) {
            case 1: CHUNK(1); break;
            case 2: CHUNK(2); break;
            case 3: CHUNK(3); break;
            case 4: CHUNK(4); break;
            case 5: CHUNK(5); break;
            case 6: CHUNK(6); break;
            case 7: CHUNK(7); break;
            default: CHUNK(8);
        }
    }
}

/* y[n, g co + o, r, c] = b[g co + o] + sum_{i,dy,dx} w[g co + o, i, dy, dx] x[n, g ci + i, (r+dy-h)%L, (c+dx-h)%L]
 * x (B, G ci, L, L), w (G co, ci, k, k), b (G co) or NULL, y (B, G co, L, L), ws as for pad(). */
void periodic_conv(const float *x, const float *w, const float *b, float *y, float *ws,
                   int B, int G, int ci, int co, int L, int k, int PW) {
    int P = L + k - 1;
    pad(x, ws, B * G * ci, L, k, P, PW);
    for (int n = 0; n < B; n++)
        for (int g = 0; g < G; g++)
            for (int o0 = 0; o0 < co; o0 += OB) {
                int no = co - o0 < OB ? co - o0 : OB;
                if (no <= 2) row_blocks(ws, w, b, y, n, g, o0, no, G, ci, co, L, k, P, PW, 2);
                else if (no == 3) row_blocks(ws, w, b, y, n, g, o0, no, G, ci, co, L, k, P, PW, 3);
                else row_blocks(ws, w, b, y, n, g, o0, no, G, ci, co, L, k, P, PW, OB);
            }
}

/* The symmetrization layers, fused: t[n, q, r, c] = sum_{s=0,1,2} (w[q] * x_s)(r, c) (w[K + q] * x_s)(r, c)
 * for q < K, with x (B, 3, L, L) the spin components, w (2K, 1, k, k) the kernels W0 then W1 of every
 * (layer, channel), t (B, K, L, L), ws as for pad() with 3B maps.  Per pass one q and up to 64 columns:
 * 2 x 3 x 4 accumulator vectors. */
static inline __attribute__((always_inline)) void sym_block(const float *ws, const float *w, float *t, int n, int q,
                                                            int c0, int K, int L, int k, int P, int PW,
                                                            const int cb) {
    int kk = k * k;
    for (int r = 0; r < L; r++) {
        vec acc[2][3][4];  /* 24 accumulators: at most 4 vectors of columns */
        for (int a = 0; a < 2; a++)
            for (int s = 0; s < 3; s++)
                for (int v = 0; v < cb; v++)
                    for (int j = 0; j < VW; j++) acc[a][s][v][j] = 0.0f;
        for (int dy = 0; dy < k; dy++)
            for (int dx = 0; dx < k; dx++) {
                float w0 = w[(size_t)q * kk + dy * k + dx], w1 = w[(size_t)(K + q) * kk + dy * k + dx];
                for (int s = 0; s < 3; s++)
                    for (int v = 0; v < cb; v++) {
                        vec xv;
                        memcpy(&xv, ws + (((size_t)n * 3 + s) * P + r + dy) * PW + c0 + dx + v * VW, sizeof xv);
                        acc[0][s][v] += w0 * xv;
                        acc[1][s][v] += w1 * xv;
                    }
            }
        for (int v = 0; v < cb; v++) {
            int c = c0 + v * VW, nc = L - c < VW ? L - c : VW;
            vec tv = acc[0][0][v] * acc[1][0][v] + acc[0][1][v] * acc[1][1][v] + acc[0][2][v] * acc[1][2][v];
            if (nc > 0) memcpy(t + (((size_t)n * K + q) * L + r) * L + c, &tv, (size_t)nc * sizeof(float));
        }
    }
}

void periodic_symmetrize(const float *x, const float *w, float *t, float *ws, int B, int K, int L, int k, int PW) {
    int P = L + k - 1;
    pad(x, ws, 3 * B, L, k, P, PW);
    for (int n = 0; n < B; n++)
        for (int q = 0; q < K; q++)
            for (int c0 = 0; c0 < L; c0 += 4 * VW) {
                int nv = (L - c0 + VW - 1) / VW;
                if (nv >= 4) sym_block(ws, w, t, n, q, c0, K, L, k, P, PW, 4);
                else if (nv == 3) sym_block(ws, w, t, n, q, c0, K, L, k, P, PW, 3);
                else if (nv == 2) sym_block(ws, w, t, n, q, c0, K, L, k, P, PW, 2);
                else sym_block(ws, w, t, n, q, c0, K, L, k, P, PW, 1);
            }
}
