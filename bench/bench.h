/*
 * bench/bench.h — the one harness every benchmark uses.
 *
 *   - timing with CUDA events on the context's stream, after a warm-up;
 *     median and min over many repetitions; each batch of repetitions is
 *     queued behind a ~0.5 ms device-to-device copy so that the GPU, not the
 *     host's launch rate, sets the pace (the events then time the kernels);
 *   - inputs rotated among enough copies that the working set exceeds twice
 *     the L2 size read from cudaGetDeviceProperties (lcb_rotation);
 *   - random data, never zeros (lcb_rng);
 *   - validation helpers: bitwise (CUDA strict == CPU strict); the vendor
 *     modes' per-element bounds come from lib/bounds.h;
 *   - one line format, printed and collected for a Markdown table:
 *       op | shape | variant | time | GB/s | TFLOP/s | vs baseline
 *   - the device-to-device copy bandwidth, measured once (read + write bytes).
 *
 * Plain C (cudart's API is C).  Everything here aborts the benchmark with a
 * message on a CUDA or layercast error: a benchmark that cannot run must not
 * print numbers.
 */
#ifndef LC_BENCH_H
#define LC_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "layercast.h"

/* ---- options ---------------------------------------------------------------*/
typedef struct lcb_opts {
  int quick;           /* --quick: fewer shapes and repetitions */
  int max_reps;        /* --reps N: most timed repetitions per cell (default 200, quick 40) */
  int min_reps;        /* fewest timed repetitions per cell (default 10, quick 5) */
  double cell_ms;      /* --cell-ms T: time budget per cell (default 400, quick 100) */
  int device;          /* --device D (default 0) */
  const char *md_path; /* --md PATH: write the Markdown there */
  int64_t shape_n;     /* --shape NxK: only that shape (bench_matmul; 0: all) */
  int64_t shape_k;
  char command[1024]; /* the command line, for the report */
} lcb_opts;

/* Parses the common options into *o; exits (2) printing `usage` on a bad
 * option, (0) on --help. */
void lcb_parse_args(int argc, char **argv, lcb_opts *o, const char *usage);

/* ---- device ----------------------------------------------------------------*/
typedef struct lcb_device {
  int device;
  char name[256];
  int cc_major, cc_minor;
  int n_sm;
  size_t l2_bytes; /* from cudaGetDeviceProperties */
  size_t global_bytes;
  int driver_version;  /* cudaDriverGetVersion, e.g. 13000 */
  int runtime_version; /* cudaRuntimeGetVersion */
  size_t cublaslt_version;
  double copy_gbps;  /* D2D cudaMemcpyAsync: (read + write bytes) / time, GB/s */
  double copy_us;    /* median time of one copy of copy_bytes */
  size_t copy_bytes; /* bytes copied (each way) in that measurement */
} lcb_device;

/* Selects the device, reads its properties, measures the copy bandwidth,
 * prints a header and keeps a scratch buffer for the timing lead-in.
 * Exits on failure (no GPU). */
void lcb_device_open(const lcb_opts *o, lcb_device *d);
void lcb_device_close(void);

/* The copy bandwidth of `device` in GB/s, read + write bytes, measured as
 * lcb_device_open does (for a benchmark that does not open the device with
 * it); lcb_device_close frees the events it keeps.  Exits on a CUDA failure. */
double lcb_copy_bandwidth(int device);

/* A CUDA context of `mode` on the benchmark's device; exits on failure. */
lc_context *lcb_context(const lcb_device *d, lc_mode mode);

/* Copies so that copies * bytes_per_copy >= 2 * L2 (at least 1, at most
 * max_copies). */
int lcb_rotation(const lcb_device *d, size_t bytes_per_copy, int max_copies);

/* ---- timing ----------------------------------------------------------------*/
typedef struct lcb_timing {
  double median_us; /* median over the timed repetitions */
  double min_us;
  double mean_us;
  int reps; /* repetitions timed */
} lcb_timing;

/* Queues one call of the op on ctx's stream for rotation slot `slot`
 * (0 <= slot < n_slots).  Returns LC_OK or the failing status. */
typedef lc_status (*lcb_call_fn)(void *arg, int slot);

/* Warm-up (every slot once, at least 3 calls), then repetitions cycling
 * through the slots, each timed by its own pair of events.  Exits on a
 * failing call (with lc_last_error(ctx)). */
void lcb_time(const lcb_device *d, const lcb_opts *o, lc_context *ctx, lcb_call_fn fn, void *arg,
              int n_slots, lcb_timing *t);

/* ---- results: one line format, and a Markdown table ------------------------*/
/* Prints `op | shape | variant | time | GB/s | TFLOP/s | vs baseline` and
 * keeps the row for the Markdown table.  bytes: napkin bytes the op must
 * move (GB/s = bytes / median time); flops: 0 prints "-"; vs: the baseline
 * note, e.g. "1.31x vs vendor-bf16" (NULL or "" prints "-"). */
void lcb_result(const char *op, const char *shape, const char *variant, const lcb_timing *t,
                double bytes, double flops, const char *vs);
/* Prints the column header line. */
void lcb_result_header(void);
/* printf to stdout and into the Markdown notes (after the table). */
void lcb_note(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Writes the Markdown report (title, device, copy bandwidth, command, the
 * table, the notes) to o->md_path if set.  Returns 0 or -1. */
int lcb_write_markdown(const lcb_opts *o, const lcb_device *d, const char *title,
                       const char *intro);

/* ---- random data (never zero) ----------------------------------------------*/
typedef struct lcb_rng {
  uint64_t s;
} lcb_rng;
lcb_rng lcb_rng_new(uint64_t seed);
uint64_t lcb_next(lcb_rng *r);
/* Uniform in (-scale, scale), never 0 (24 random bits, the lowest forced). */
float lcb_uniformf(lcb_rng *r, float scale);
void lcb_fill_f32(lcb_rng *r, float *v, int64_t n, float scale);
/* bf16 of uniform (-scale, scale), never 0. */
void lcb_fill_bf16(lcb_rng *r, uint16_t *v, int64_t n, float scale);

/* ---- memory and checks -----------------------------------------------------*/
void *lcb_malloc(size_t bytes);                  /* host; exits when out of memory */
void *lcb_dalloc(lc_context *ctx, size_t bytes); /* lc_buffer_alloc; exits on failure */
void lcb_upload(lc_context *ctx, void *dst, const void *src, size_t bytes);
void lcb_download(lc_context *ctx, void *dst, const void *src, size_t bytes);
/* Device-to-device copy on ctx's stream (fills rotation copies). */
void lcb_dcopy(lc_context *ctx, void *dst, const void *src, size_t bytes);
void lcb_sync(lc_context *ctx);
/* Exits with the context's last error when st != LC_OK. */
void lcb_check(lc_context *ctx, lc_status st, const char *what);

/* 1 if got and ref are memcmp-equal; else prints the first difference
 * (index, both values and bits) under `what` and returns 0. */
int lcb_check_bitwise(const float *got, const float *ref, int64_t n, const char *what);
/* Within a per-element bound: lc_bound_worst_ratio (lib/bounds.h), the rule
 * the tests and `layercast verify` use too. */

/* Seconds of a monotonic host clock. */
double lcb_now(void);

#endif /* LC_BENCH_H */
