/* Chebyshev moments of the double exchange Hamiltonian for a block of probe vectors (efnn_core.solvers.kpm).
 *
 * Vectors are planar float64: x[part][spin][site][R] (part 0 = real, 1 = imaginary, site = r * L + c,
 * R probe columns innermost, so every loop below is a contiguous, vectorizable loop over R).
 * One step computes prev <- 2 H~ cur - prev in place, with
 *   (2 H~ v)[s, i] = d2[s, i] v[s, i] + h2 * sum_{j nn i} v[s, j] + (s == 0 ? f2 v[1, i] : conj(f2) v[0, i]),
 * and accumulates, per column, <cur|cur> and Re <new|cur> on the fly.  The whole recursion for the block
 * runs here (M/2 steps), so Python is called once per block, not once per step.
 */
#include <stddef.h>

static void step(int L, int R, const double *d2, const double *fre, const double *fim, double h2,
                 const double *restrict cur, double *restrict prev, double *restrict cc,
                 double *restrict nc)
{
    const size_t n = (size_t)L * L, S = n * R;  /* S: one (part, spin) plane */
    for (int j = 0; j < R; j++) cc[j] = nc[j] = 0.0;
    for (int s = 0; s < 2; s++) {
        for (int r = 0; r < L; r++) {
            const int ru = (r + L - 1) % L, rd = (r + 1) % L;
            for (int c = 0; c < L; c++) {
                const int cl = (c + L - 1) % L, cr = (c + 1) % L;
                const size_t i = (size_t)r * L + c;
                const double d = d2[s * n + i], fr = fre[i], fi = s == 0 ? fim[i] : -fim[i];
                const double *xr = cur + (0 * 2 + s) * S, *xi = cur + (1 * 2 + s) * S;
                const double *yr = cur + (0 * 2 + 1 - s) * S, *yi = cur + (1 * 2 + 1 - s) * S;
                double *restrict pr = prev + (0 * 2 + s) * S + i * R, *restrict pi = prev + (1 * 2 + s) * S + i * R;
                const double *restrict ar = xr + i * R, *ai = xi + i * R, *br = yr + i * R, *bi = yi + i * R;
                const double *u_r = xr + ((size_t)ru * L + c) * R, *u_i = xi + ((size_t)ru * L + c) * R;
                const double *d_r = xr + ((size_t)rd * L + c) * R, *d_i = xi + ((size_t)rd * L + c) * R;
                const double *l_r = xr + ((size_t)r * L + cl) * R, *l_i = xi + ((size_t)r * L + cl) * R;
                const double *q_r = xr + ((size_t)r * L + cr) * R, *q_i = xi + ((size_t)r * L + cr) * R;
                for (int j = 0; j < R; j++) {
                    const double vr = ar[j], vi = ai[j];
                    const double nr = d * vr + h2 * (u_r[j] + d_r[j] + l_r[j] + q_r[j])
                                      + fr * br[j] - fi * bi[j] - pr[j];
                    const double ni = d * vi + h2 * (u_i[j] + d_i[j] + l_i[j] + q_i[j])
                                      + fr * bi[j] + fi * br[j] - pi[j];
                    pr[j] = nr;
                    pi[j] = ni;
                    cc[j] += vr * vr + vi * vi;
                    nc[j] += nr * vr + ni * vi;
                }
            }
        }
    }
}

/* a: phi_0 on entry (overwritten), b: scratch; mu: (2 * half) x R moments out; acc: 2R scratch. */
void cheb_moments(int L, int R, int half, const double *d2, const double *fre, const double *fim, double h2,
                  double *a, double *b, double *mu, double *acc)
{
    const size_t total = (size_t)4 * L * L * R;
    double *cc = acc, *nc = acc + R;
    for (size_t k = 0; k < total; k++) b[k] = 0.0;
    step(L, R, d2, fre, fim, h2, a, b, cc, nc);        /* b = 2 H~ phi_0 */
    for (size_t k = 0; k < total; k++) b[k] *= 0.5;     /* b = phi_1 */
    for (int j = 0; j < R; j++) { mu[j] = cc[j]; mu[R + j] = 0.5 * nc[j]; }
    double *cur = b, *old = a;
    for (int k = 1; k < half; k++) {
        step(L, R, d2, fre, fim, h2, cur, old, cc, nc);   /* old <- phi_{k+1} */
        for (int j = 0; j < R; j++) {
            mu[(size_t)(2 * k) * R + j] = 2.0 * cc[j] - mu[j];
            mu[(size_t)(2 * k + 1) * R + j] = 2.0 * nc[j] - mu[R + j];
        }
        double *t = cur; cur = old; old = t;
    }
}
