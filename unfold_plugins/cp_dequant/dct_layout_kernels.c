/* cp-dequant's DCT-layout iteration as one native loop: MKL's real FFTs (the copy torch itself
 * uses, its functions bound at run time by cp_layout_bind) and the two elementwise halves,
 * each one pass. Built and loaded by dct_layout_kernels.py; the math is in its docstring.
 *
 * Per block of rows, n_iter times:
 *   S = rfft(vbar)                                          (forward, length n, m = n/2 + 1 bins)
 *   psi <- clip(psi + S * a, -1, 1) on re and im;  S <- psi * b                       (dual)
 *   k = irfft(S) (scaled by 1/n, as torch.fft.irfft)                                  (backward)
 *   v+ = clip(v - k, x - h_r, x + h_r);  vbar <- v + c (v+ - v);  v <- v+             (primal)
 * v, vbar, x: (rows, n) real; psi: (rows, m) complex as (re, im) pairs; a, b: (m) complex;
 * h: (rows) real. All C-contiguous, one precision: the _f32 and _f64 entry points.
 * Blocks of rows keep one block's arrays in the core's cache for all iterations.
 * Returns 0, or the MKL status of the call that failed, or -1 when memory ran out.
 */
#include <stddef.h>
#include <stdlib.h>

typedef void *DftiHandle;
static long (*dfti_create_s)(DftiHandle *, int, long);
static long (*dfti_create_d)(DftiHandle *, int, long);
static long (*dfti_set)(DftiHandle, int, ...);
static long (*dfti_commit)(DftiHandle);
static long (*dfti_forward)(DftiHandle, void *, ...);
static long (*dfti_backward)(DftiHandle, void *, ...);
static long (*dfti_free)(DftiHandle *);

/* mkl_dfti.h's values */
enum { DFTI_BACKWARD_SCALE = 5, DFTI_NUMBER_OF_TRANSFORMS = 7, DFTI_CONJUGATE_EVEN_STORAGE = 10,
       DFTI_PLACEMENT = 11, DFTI_INPUT_DISTANCE = 14, DFTI_OUTPUT_DISTANCE = 15, DFTI_REAL = 33,
       DFTI_COMPLEX_COMPLEX = 39, DFTI_NOT_INPLACE = 44 };

void cp_layout_bind(void *create_s, void *create_d, void *set, void *commit, void *forward,
                    void *backward, void *free_) {
  dfti_create_s = (long (*)(DftiHandle *, int, long))create_s;
  dfti_create_d = (long (*)(DftiHandle *, int, long))create_d;
  dfti_set = (long (*)(DftiHandle, int, ...))set;
  dfti_commit = (long (*)(DftiHandle))commit;
  dfti_forward = (long (*)(DftiHandle, void *, ...))forward;
  dfti_backward = (long (*)(DftiHandle, void *, ...))backward;
  dfti_free = (long (*)(DftiHandle *))free_;
}

/* rows transforms of length n, out of place, spectra as m complex values per row:
   forward real (distance n) -> complex (distance m), backward the reverse, scaled by 1/n. */
static long plan(DftiHandle *d, int dbl, long rows, long n, int backward) {
  long m = n / 2 + 1, s = (dbl ? dfti_create_d : dfti_create_s)(d, DFTI_REAL, n);
  if (s) return s;
  if ((s = dfti_set(*d, DFTI_NUMBER_OF_TRANSFORMS, rows)) ||
      (s = dfti_set(*d, DFTI_PLACEMENT, DFTI_NOT_INPLACE)) ||
      (s = dfti_set(*d, DFTI_CONJUGATE_EVEN_STORAGE, DFTI_COMPLEX_COMPLEX)) ||
      (s = dfti_set(*d, DFTI_INPUT_DISTANCE, backward ? m : n)) ||
      (s = dfti_set(*d, DFTI_OUTPUT_DISTANCE, backward ? n : m)) ||
      (s = dfti_set(*d, DFTI_BACKWARD_SCALE, 1.0 / (double)n)) || (s = dfti_commit(*d)))
    dfti_free(d);
  return s;
}

#define CLIP(a, lo, hi) ((a) < (lo) ? (lo) : ((a) > (hi) ? (hi) : (a)))

#define DEFINE_LOOP(T, SUFFIX, DBL)                                                            \
  static void dual_##SUFFIX(T *restrict psi, T *restrict S, const T *restrict a,              \
                            const T *restrict b, long rows, long m) {                         \
    for (long r = 0; r < rows; ++r) {                                                          \
      T *restrict p = psi + 2 * r * m, *restrict f = S + 2 * r * m;                            \
      for (long j = 0; j < m; ++j) {                                                           \
        T fr = f[2 * j], fi = f[2 * j + 1], ar = a[2 * j], ai = a[2 * j + 1];                  \
        T qr = p[2 * j] + (fr * ar - fi * ai), qi = p[2 * j + 1] + (fr * ai + fi * ar);        \
        qr = CLIP(qr, (T)-1, (T)1);                                                            \
        qi = CLIP(qi, (T)-1, (T)1);                                                            \
        p[2 * j] = qr;                                                                         \
        p[2 * j + 1] = qi;                                                                     \
        T br = b[2 * j], bi = b[2 * j + 1];                                                    \
        f[2 * j] = qr * br - qi * bi;                                                          \
        f[2 * j + 1] = qr * bi + qi * br;                                                      \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
                                                                                               \
  static void primal_##SUFFIX(T *restrict v, const T *restrict k, const T *restrict x,        \
                              const T *restrict h, T *restrict vbar, T c, long rows, long n) { \
    for (long r = 0; r < rows; ++r) {                                                          \
      T *restrict vr = v + r * n, *restrict br = vbar + r * n;                                 \
      const T *restrict kr = k + r * n, *restrict xr = x + r * n;                              \
      T hr = h[r];                                                                             \
      for (long i = 0; i < n; ++i) {                                                           \
        T old = vr[i], new_ = old - kr[i];                                                     \
        new_ = CLIP(new_, xr[i] - hr, xr[i] + hr);                                             \
        br[i] = old + c * (new_ - old);                                                        \
        vr[i] = new_;                                                                          \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
                                                                                               \
  long cp_layout_run_##SUFFIX(T *v, T *vbar, T *psi, const T *x, const T *h, const T *a,     \
                              const T *b, T c, long rows, long n, long n_iter, long block) {  \
    long m = n / 2 + 1, status = 0;                                                            \
    T *S = malloc(sizeof(T) * 2 * m * block), *K = malloc(sizeof(T) * n * block);             \
    if (!S || !K) {                                                                            \
      free(S);                                                                                 \
      free(K);                                                                                 \
      return -1;                                                                               \
    }                                                                                          \
    DftiHandle fwd = NULL, bwd = NULL;                                                         \
    long planned = 0;                                                                          \
    for (long r0 = 0; r0 < rows && !status; r0 += block) {                                    \
      long R = rows - r0 < block ? rows - r0 : block;                                          \
      if (R != planned) {                                                                      \
        if (planned) {                                                                         \
          dfti_free(&fwd);                                                                     \
          dfti_free(&bwd);                                                                     \
        }                                                                                      \
        planned = 0;                                                                           \
        if ((status = plan(&fwd, DBL, R, n, 0))) break;                                        \
        if ((status = plan(&bwd, DBL, R, n, 1))) {                                             \
          dfti_free(&fwd);                                                                     \
          break;                                                                               \
        }                                                                                      \
        planned = R;                                                                           \
      }                                                                                        \
      T *vb = v + r0 * n, *bb = vbar + r0 * n, *pb = psi + 2 * r0 * m;                         \
      for (long it = 0; it < n_iter; ++it) {                                                   \
        if ((status = dfti_forward(fwd, bb, S))) break;                                        \
        dual_##SUFFIX(pb, S, a, b, R, m);                                                      \
        if ((status = dfti_backward(bwd, S, K))) break;                                        \
        primal_##SUFFIX(vb, K, x + r0 * n, h + r0, bb, c, R, n);                               \
      }                                                                                        \
    }                                                                                          \
    if (planned) {                                                                             \
      dfti_free(&fwd);                                                                         \
      dfti_free(&bwd);                                                                         \
    }                                                                                          \
    free(S);                                                                                   \
    free(K);                                                                                   \
    return status;                                                                             \
  }

DEFINE_LOOP(float, f32, 0)
DEFINE_LOOP(double, f64, 1)
