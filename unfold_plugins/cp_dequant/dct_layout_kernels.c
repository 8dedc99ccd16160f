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
 * Blocks of rows keep one block's arrays in the core's cache for all iterations. With
 * threads > 1 and torch's OpenMP runtime bound, a team of that many threads takes the blocks
 * one at a time, each FFT on one thread; otherwise the calling thread does all.
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
/* torch's OpenMP runtime (libgomp's ABI for `#pragma omp parallel`): the threads torch already
   runs, so none of them spins on a core that a thread of ours would need */
static void (*gomp_parallel)(void (*)(void *), void *, unsigned, unsigned);

/* mkl_dfti.h's values */
enum { DFTI_BACKWARD_SCALE = 5, DFTI_NUMBER_OF_TRANSFORMS = 7, DFTI_CONJUGATE_EVEN_STORAGE = 10,
       DFTI_PLACEMENT = 11, DFTI_INPUT_DISTANCE = 14, DFTI_OUTPUT_DISTANCE = 15,
       DFTI_THREAD_LIMIT = 27, DFTI_REAL = 33, DFTI_COMPLEX_COMPLEX = 39, DFTI_NOT_INPLACE = 44 };

void cp_layout_bind(void *create_s, void *create_d, void *set, void *commit, void *forward,
                    void *backward, void *free_, void *parallel) {
  gomp_parallel = (void (*)(void (*)(void *), void *, unsigned, unsigned))parallel;
  dfti_create_s = (long (*)(DftiHandle *, int, long))create_s;
  dfti_create_d = (long (*)(DftiHandle *, int, long))create_d;
  dfti_set = (long (*)(DftiHandle, int, ...))set;
  dfti_commit = (long (*)(DftiHandle))commit;
  dfti_forward = (long (*)(DftiHandle, void *, ...))forward;
  dfti_backward = (long (*)(DftiHandle, void *, ...))backward;
  dfti_free = (long (*)(DftiHandle *))free_;
}

/* rows transforms of length n, out of place, spectra as m complex values per row:
   forward real (distance n) -> complex (distance m), backward the reverse, scaled by 1/n.
   One thread each: the loop runs its own threads over blocks. */
static long plan(DftiHandle *d, int dbl, long rows, long n, int backward) {
  long m = n / 2 + 1, s = (dbl ? dfti_create_d : dfti_create_s)(d, DFTI_REAL, n);
  if (s) return s;
  if ((s = dfti_set(*d, DFTI_NUMBER_OF_TRANSFORMS, rows)) ||
      (s = dfti_set(*d, DFTI_PLACEMENT, DFTI_NOT_INPLACE)) ||
      (s = dfti_set(*d, DFTI_CONJUGATE_EVEN_STORAGE, DFTI_COMPLEX_COMPLEX)) ||
      (s = dfti_set(*d, DFTI_INPUT_DISTANCE, backward ? m : n)) ||
      (s = dfti_set(*d, DFTI_OUTPUT_DISTANCE, backward ? n : m)) ||
      (s = dfti_set(*d, DFTI_BACKWARD_SCALE, 1.0 / (double)n)) ||
      (s = dfti_set(*d, DFTI_THREAD_LIMIT, 1L)) || (s = dfti_commit(*d)))
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
  typedef struct {                                                                           \
    T *v, *vbar, *psi;                                                                         \
    const T *x, *h, *a, *b;                                                                    \
    T c;                                                                                       \
    long rows, n, n_iter, block, next, status;                                                 \
  } Job_##SUFFIX;                                                                              \
                                                                                               \
  /* takes blocks of rows until none is left (every thread of a team runs it) */              \
  static void blocks_##SUFFIX(void *arg) {                                                     \
    Job_##SUFFIX *j = arg;                                                                     \
    long n = j->n, m = n / 2 + 1, block = j->block, status = 0, planned = 0;                   \
    T *S = malloc(sizeof(T) * 2 * m * block), *K = malloc(sizeof(T) * n * block);             \
    DftiHandle fwd = NULL, bwd = NULL;                                                         \
    if (!S || !K) status = -1;                                                                 \
    while (!status && !__atomic_load_n(&j->status, __ATOMIC_RELAXED)) {                        \
      long r0 = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED) * block;                     \
      if (r0 >= j->rows) break;                                                                \
      long R = j->rows - r0 < block ? j->rows - r0 : block;                                    \
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
      T *vb = j->v + r0 * n, *bb = j->vbar + r0 * n, *pb = j->psi + 2 * r0 * m;                \
      for (long it = 0; it < j->n_iter && !status; ++it) {                                     \
        if ((status = dfti_forward(fwd, bb, S))) break;                                        \
        dual_##SUFFIX(pb, S, j->a, j->b, R, m);                                                \
        if ((status = dfti_backward(bwd, S, K))) break;                                        \
        primal_##SUFFIX(vb, K, j->x + r0 * n, j->h + r0, bb, j->c, R, n);                      \
      }                                                                                        \
    }                                                                                          \
    if (planned) {                                                                             \
      dfti_free(&fwd);                                                                         \
      dfti_free(&bwd);                                                                         \
    }                                                                                          \
    free(S);                                                                                   \
    free(K);                                                                                   \
    if (status) __atomic_store_n(&j->status, status, __ATOMIC_RELAXED);                        \
  }                                                                                            \
                                                                                               \
  long cp_layout_run_##SUFFIX(T *v, T *vbar, T *psi, const T *x, const T *h, const T *a,     \
                              const T *b, T c, long rows, long n, long n_iter, long block,    \
                              long threads) {                                                  \
    Job_##SUFFIX job = {v, vbar, psi, x, h, a, b, c, rows, n, n_iter, block, 0, 0};            \
    long n_blocks = (rows + block - 1) / block;                                                \
    if (threads > n_blocks) threads = n_blocks;                                                \
    if (threads > 1 && gomp_parallel)                                                          \
      gomp_parallel(blocks_##SUFFIX, &job, (unsigned)threads, 0);                              \
    else                                                                                       \
      blocks_##SUFFIX(&job);                                                                   \
    return job.status;                                                                         \
  }

DEFINE_LOOP(float, f32, 0)
DEFINE_LOOP(double, f64, 1)
