/*
 * bench/bench.c — the shared benchmark harness (see bench.h).
 *
 * How a cell is timed (lcb_time):
 *   1. warm-up: every rotation slot once (at least 2 calls): grows the
 *      context's workspace, builds cuBLASLt plans, loads modules;
 *   2. one call timed alone, to size the run: reps = cell budget / that time,
 *      clamped to [min_reps, max_reps];
 *   3. batches of up to 16 calls.  Each batch is queued behind a lead-in of
 *      device-to-device copies (~0.5 ms of GPU work, which also evicts L2)
 *      so that the host has queued the calls before the GPU reaches them;
 *      an event is recorded before the first call and after every call, so
 *      each interval is one call's GPU time (kernels plus the gaps between
 *      them), not the host's launch rate;
 *   4. median and min over all intervals.
 * Slot i of the rotation is used by call i mod n_slots, so consecutive calls
 * touch different copies of the inputs (lcb_rotation sizes them past 2 x L2).
 */
#define _POSIX_C_SOURCE 200809L

#include "bench/bench.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cast/lc_cast.h"
#include "lib/lc_internal.h"

#define LCB_BATCH 16
#define LCB_LEAD_IN_S 0.5e-3 /* GPU work queued ahead of each batch */
#define LCB_LEAD_CHUNK ((size_t)64 << 20)

static struct {
  void *copy_src, *copy_dst; /* device scratch for the copy measurement and lead-ins */
  size_t copy_bytes;
  int lead_copies; /* lead-in = lead_copies copies of LCB_LEAD_CHUNK */
  cudaEvent_t ev[LCB_BATCH + 1];
  int have_events;
} g;

static void cuda_ok(cudaError_t e, const char *what) {
  if (e == cudaSuccess) return;
  fprintf(stderr, "bench: %s: %s (%s)\n", what, cudaGetErrorString(e), cudaGetErrorName(e));
  exit(1);
}

double lcb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- options -----------------------------------------------------------------*/

void lcb_parse_args(int argc, char **argv, lcb_opts *o, const char *usage) {
  memset(o, 0, sizeof *o);
  o->device = 0;
  int reps = 0;
  double cell = 0;
  size_t at = 0;
  for (int i = 0; i < argc; i++) {
    int n = snprintf(o->command + at, sizeof o->command - at, "%s%s", i ? " " : "", argv[i]);
    if (n > 0 && at + (size_t)n < sizeof o->command) at += (size_t)n;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_val = i + 1 < argc;
    if (strcmp(a, "--quick") == 0) {
      o->quick = 1;
    } else if (strcmp(a, "--md") == 0 && has_val) {
      o->md_path = argv[++i];
    } else if (strcmp(a, "--reps") == 0 && has_val) {
      reps = atoi(argv[++i]);
    } else if (strcmp(a, "--cell-ms") == 0 && has_val) {
      cell = atof(argv[++i]);
    } else if (strcmp(a, "--shape") == 0 && has_val) {
      long long sn = 0, sk = 0;
      char tail = 0;
      if (sscanf(argv[++i], "%lldx%lld%c", &sn, &sk, &tail) != 2 || sn < 1 || sk < 1) {
        fprintf(stderr, "--shape wants NxK, e.g. 4096x14336\n%s", usage);
        exit(2);
      }
      o->shape_n = sn;
      o->shape_k = sk;
    } else if (strcmp(a, "--device") == 0 && has_val) {
      o->device = atoi(argv[++i]);
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      printf("%s", usage);
      exit(0);
    } else {
      fprintf(stderr, "unknown or incomplete option '%s'\n%s", a, usage);
      exit(2);
    }
  }
  o->max_reps = reps > 0 ? reps : (o->quick ? 40 : 200);
  o->min_reps = o->quick ? 5 : 10;
  if (o->min_reps > o->max_reps) o->min_reps = o->max_reps;
  o->cell_ms = cell > 0 ? cell : (o->quick ? 100.0 : 400.0);
}

/* ---- device ------------------------------------------------------------------*/

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void ensure_events(void) {
  if (g.have_events) return;
  for (int i = 0; i <= LCB_BATCH; i++) cuda_ok(cudaEventCreate(&g.ev[i]), "cudaEventCreate");
  g.have_events = 1;
}

/* Bytes each way of the copy-bandwidth measurement: 1 GiB, 256 MiB on a
 * device of 16 GiB or less. */
static size_t copy_size(size_t global_bytes) {
  return global_bytes > ((size_t)16 << 30) ? ((size_t)1 << 30) : ((size_t)256 << 20);
}

/* Median time in us of a device-to-device cudaMemcpyAsync of `bytes` from
 * src (filled with 0x5A first) to dst on a stream of its own, over 20 copies
 * after 3 warm-ups.  Exits on a CUDA failure. */
static double copy_median_us(void *dst, void *src, size_t bytes) {
  cuda_ok(cudaMemset(src, 0x5A, bytes), "cudaMemset");
  ensure_events();
  cudaStream_t s;
  cuda_ok(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  enum { WARM = 3, REPS = 20 };
  double t[REPS];
  for (int i = 0; i < WARM + REPS; i++) {
    cuda_ok(cudaEventRecord(g.ev[0], s), "cudaEventRecord");
    cuda_ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync D2D");
    cuda_ok(cudaEventRecord(g.ev[1], s), "cudaEventRecord");
    cuda_ok(cudaEventSynchronize(g.ev[1]), "cudaEventSynchronize");
    float ms = 0;
    cuda_ok(cudaEventElapsedTime(&ms, g.ev[0], g.ev[1]), "cudaEventElapsedTime");
    if (i >= WARM) t[i - WARM] = 1e3 * (double)ms;
  }
  cuda_ok(cudaStreamDestroy(s), "cudaStreamDestroy");
  qsort(t, REPS, sizeof t[0], cmp_double);
  return 0.5 * (t[REPS / 2 - 1] + t[REPS / 2]);
}

double lcb_copy_bandwidth(int device) {
  cuda_ok(cudaSetDevice(device), "cudaSetDevice");
  size_t free_b = 0, total_b = 0;
  cuda_ok(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
  const size_t bytes = copy_size(total_b);
  void *src = NULL, *dst = NULL;
  cuda_ok(cudaMalloc(&src, bytes), "cudaMalloc (copy source)");
  cuda_ok(cudaMalloc(&dst, bytes), "cudaMalloc (copy destination)");
  const double us = copy_median_us(dst, src, bytes);
  cudaFree(src);
  cudaFree(dst);
  return 2.0 * (double)bytes / (us * 1e-6) / 1e9;
}

void lcb_device_open(const lcb_opts *o, lcb_device *d) {
  memset(d, 0, sizeof *d);
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count <= o->device) {
    fprintf(stderr, "bench: no usable CUDA device %d (device count %d)\n", o->device, count);
    exit(1);
  }
  d->device = o->device;
  cuda_ok(cudaSetDevice(d->device), "cudaSetDevice");
  struct cudaDeviceProp prop;
  cuda_ok(cudaGetDeviceProperties(&prop, d->device), "cudaGetDeviceProperties");
  snprintf(d->name, sizeof d->name, "%s", prop.name);
  d->cc_major = prop.major;
  d->cc_minor = prop.minor;
  d->n_sm = prop.multiProcessorCount;
  d->l2_bytes = (size_t)prop.l2CacheSize;
  d->global_bytes = prop.totalGlobalMem;
  cuda_ok(cudaDriverGetVersion(&d->driver_version), "cudaDriverGetVersion");
  cuda_ok(cudaRuntimeGetVersion(&d->runtime_version), "cudaRuntimeGetVersion");
  d->cublaslt_version = cublasLtGetVersion();

  /* Copy bandwidth: 1 GiB each way (far beyond L2), counted read + write. */
  g.copy_bytes = copy_size(d->global_bytes);
  cuda_ok(cudaMalloc(&g.copy_src, g.copy_bytes), "cudaMalloc (copy source)");
  cuda_ok(cudaMalloc(&g.copy_dst, g.copy_bytes), "cudaMalloc (copy destination)");
  d->copy_us = copy_median_us(g.copy_dst, g.copy_src, g.copy_bytes);
  d->copy_bytes = g.copy_bytes;
  d->copy_gbps = 2.0 * (double)g.copy_bytes / (d->copy_us * 1e-6) / 1e9;
  double chunk_s = 2.0 * (double)LCB_LEAD_CHUNK / (d->copy_gbps * 1e9);
  g.lead_copies = (int)ceil(LCB_LEAD_IN_S / chunk_s);
  if (g.lead_copies < 1) g.lead_copies = 1;
  if (g.lead_copies > 64) g.lead_copies = 64;

  printf("device %d: %s, sm_%d%d, %d SMs, L2 %.1f MiB, %.1f GiB\n", d->device, d->name, d->cc_major,
         d->cc_minor, d->n_sm, (double)d->l2_bytes / 1048576.0,
         (double)d->global_bytes / 1073741824.0);
  printf("driver %d.%d, CUDA runtime %d.%d, cuBLASLt %zu\n", d->driver_version / 1000,
         (d->driver_version % 1000) / 10, d->runtime_version / 1000,
         (d->runtime_version % 1000) / 10, d->cublaslt_version);
  printf(
      "copy bandwidth: %.0f GB/s (cudaMemcpyAsync D2D of %.0f MiB in %.1f us, read + write "
      "bytes)\n",
      d->copy_gbps, (double)g.copy_bytes / 1048576.0, d->copy_us);
  const char *envs[] = {"NVIDIA_TF32_OVERRIDE", "CUBLAS_EMULATE_SINGLE_PRECISION",
                        "CUBLASLT_WORKSPACE_SIZE", "CUDA_LAUNCH_BLOCKING"};
  for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
    const char *v = getenv(envs[i]);
    if (v) printf("warning: %s=%s is set in the environment\n", envs[i], v);
  }
  printf(
      "timing: CUDA events per call after warm-up, median of up to %d reps (budget %.0f ms "
      "per cell), batches of %d behind a %.2f ms lead-in copy, inputs rotated past 2 x L2\n",
      o->max_reps, o->cell_ms, LCB_BATCH, 1e3 * chunk_s * g.lead_copies);
}

void lcb_device_close(void) {
  cudaFree(g.copy_src);
  cudaFree(g.copy_dst);
  g.copy_src = g.copy_dst = NULL;
  if (g.have_events)
    for (int i = 0; i <= LCB_BATCH; i++) cudaEventDestroy(g.ev[i]);
  g.have_events = 0;
}

lc_context *lcb_context(const lcb_device *d, lc_mode mode) {
  lc_context_params p;
  lc_context_params_default(&p);
  p.backend = LC_BACKEND_CUDA;
  p.mode = mode;
  p.device = d->device;
  lc_context *ctx = NULL;
  if (lc_context_create(&p, &ctx) != LC_OK) {
    fprintf(stderr, "bench: lc_context_create(cuda, %s): %s\n", lc_mode_name(mode),
            lc_last_error(NULL));
    exit(1);
  }
  return ctx;
}

int lcb_rotation(const lcb_device *d, size_t bytes_per_copy, int max_copies) {
  if (bytes_per_copy == 0) return 1;
  size_t need = 2 * d->l2_bytes;
  size_t c = (need + bytes_per_copy - 1) / bytes_per_copy;
  if (c < 1) c = 1;
  if (c > (size_t)max_copies) c = (size_t)max_copies;
  return (int)c;
}

/* ---- timing ------------------------------------------------------------------*/

static void call_or_die(lc_context *ctx, lcb_call_fn fn, void *arg, int slot) {
  lc_status st = fn(arg, slot);
  if (st != LC_OK) {
    fprintf(stderr, "bench: timed call failed: %s: %s\n", lc_status_name(st), lc_last_error(ctx));
    exit(1);
  }
}

static void lead_in(cudaStream_t s) {
  size_t chunk = LCB_LEAD_CHUNK < g.copy_bytes ? LCB_LEAD_CHUNK : g.copy_bytes;
  for (int i = 0; i < g.lead_copies; i++)
    cuda_ok(cudaMemcpyAsync(g.copy_dst, g.copy_src, chunk, cudaMemcpyDeviceToDevice, s),
            "lead-in copy");
}

void lcb_time(const lcb_device *d, const lcb_opts *o, lc_context *ctx, lcb_call_fn fn, void *arg,
              int n_slots, lcb_timing *t) {
  (void)d;
  ensure_events();
  cudaStream_t s = (cudaStream_t)lc_cuda_stream(ctx);
  if (n_slots < 1) n_slots = 1;
  int call = 0;
  int warm = n_slots < 2 ? 2 : n_slots;
  for (int i = 0; i < warm; i++) call_or_die(ctx, fn, arg, call++ % n_slots);
  lcb_sync(ctx);

  /* one call alone sizes the run */
  lead_in(s);
  cuda_ok(cudaEventRecord(g.ev[0], s), "cudaEventRecord");
  call_or_die(ctx, fn, arg, call++ % n_slots);
  cuda_ok(cudaEventRecord(g.ev[1], s), "cudaEventRecord");
  cuda_ok(cudaEventSynchronize(g.ev[1]), "cudaEventSynchronize (a timed call failed?)");
  float ms1 = 0;
  cuda_ok(cudaEventElapsedTime(&ms1, g.ev[0], g.ev[1]), "cudaEventElapsedTime");
  double t1 = ms1 > 0 ? 1e3 * (double)ms1 : 1.0; /* us */
  int min_reps = t1 > 50e3 ? 3 : o->min_reps;    /* calls over 50 ms: a few suffice */
  double want = o->cell_ms * 1e3 / t1;
  int reps = want > (double)o->max_reps ? o->max_reps : (int)want;
  if (reps < min_reps) reps = min_reps;

  double *us = lcb_malloc((size_t)reps * sizeof *us);
  int done = 0;
  while (done < reps) {
    int nb = reps - done < LCB_BATCH ? reps - done : LCB_BATCH;
    if (t1 < 2e3) lead_in(s); /* long calls keep the queue full by themselves */
    cuda_ok(cudaEventRecord(g.ev[0], s), "cudaEventRecord");
    for (int j = 0; j < nb; j++) {
      call_or_die(ctx, fn, arg, call++ % n_slots);
      cuda_ok(cudaEventRecord(g.ev[j + 1], s), "cudaEventRecord");
    }
    cuda_ok(cudaEventSynchronize(g.ev[nb]), "cudaEventSynchronize (a timed call failed?)");
    for (int j = 0; j < nb; j++) {
      float ms = 0;
      cuda_ok(cudaEventElapsedTime(&ms, g.ev[j], g.ev[j + 1]), "cudaEventElapsedTime");
      us[done + j] = 1e3 * (double)ms;
    }
    done += nb;
  }
  lcb_sync(ctx);
  double sum = 0;
  for (int i = 0; i < reps; i++) sum += us[i];
  qsort(us, (size_t)reps, sizeof us[0], cmp_double);
  t->reps = reps;
  t->min_us = us[0];
  t->median_us = (reps % 2) ? us[reps / 2] : 0.5 * (us[reps / 2 - 1] + us[reps / 2]);
  t->mean_us = sum / reps;
  free(us);
}

/* ---- results -----------------------------------------------------------------*/

typedef struct lcb_row {
  char op[32], shape[64], variant[40], time[64], gbps[24], tflops[24], vs[64];
} lcb_row;

static struct {
  lcb_row *rows;
  size_t n, cap;
  char *notes;
  size_t notes_len, notes_cap;
} res;

static void fmt_time(char *buf, size_t len, double us) {
  if (us >= 1e4)
    snprintf(buf, len, "%.3f ms", us * 1e-3);
  else if (us >= 100)
    snprintf(buf, len, "%.1f us", us);
  else
    snprintf(buf, len, "%.2f us", us);
}

void lcb_result_header(void) {
  printf("%-12s | %-26s | %-17s | %-24s | %9s | %8s | %s\n", "op", "shape", "variant",
         "time (median, min)", "GB/s", "TFLOP/s", "vs baseline");
}

void lcb_result(const char *op, const char *shape, const char *variant, const lcb_timing *t,
                double bytes, double flops, const char *vs) {
  if (res.n == res.cap) {
    res.cap = res.cap ? 2 * res.cap : 64;
    res.rows = realloc(res.rows, res.cap * sizeof *res.rows);
    if (!res.rows) {
      fprintf(stderr, "bench: out of host memory\n");
      exit(1);
    }
  }
  lcb_row *r = &res.rows[res.n++];
  memset(r, 0, sizeof *r);
  snprintf(r->op, sizeof r->op, "%s", op);
  snprintf(r->shape, sizeof r->shape, "%s", shape);
  snprintf(r->variant, sizeof r->variant, "%s", variant);
  char med[24], mn[24];
  fmt_time(med, sizeof med, t->median_us);
  fmt_time(mn, sizeof mn, t->min_us);
  snprintf(r->time, sizeof r->time, "%s (%s)", med, mn);
  double sec = t->median_us * 1e-6;
  if (bytes > 0)
    snprintf(r->gbps, sizeof r->gbps, "%.0f", bytes / sec / 1e9);
  else
    snprintf(r->gbps, sizeof r->gbps, "-");
  if (flops > 0)
    snprintf(r->tflops, sizeof r->tflops, "%.2f", flops / sec / 1e12);
  else
    snprintf(r->tflops, sizeof r->tflops, "-");
  snprintf(r->vs, sizeof r->vs, "%s", (vs && *vs) ? vs : "-");
  printf("%-12s | %-26s | %-17s | %-24s | %9s | %8s | %s\n", r->op, r->shape, r->variant, r->time,
         r->gbps, r->tflops, r->vs);
  fflush(stdout);
}

void lcb_note(const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = strlen(buf);
  fputs(buf, stdout);
  fflush(stdout);
  if (res.notes_len + len + 1 > res.notes_cap) {
    size_t cap = res.notes_cap ? res.notes_cap : 4096;
    while (cap < res.notes_len + len + 1) cap *= 2;
    char *p = realloc(res.notes, cap);
    if (!p) return;
    res.notes = p;
    res.notes_cap = cap;
  }
  memcpy(res.notes + res.notes_len, buf, len + 1);
  res.notes_len += len;
}

int lcb_write_markdown(const lcb_opts *o, const lcb_device *d, const char *title,
                       const char *intro) {
  if (!o->md_path) return 0;
  FILE *f = fopen(o->md_path, "w");
  if (!f) {
    fprintf(stderr, "bench: cannot write %s\n", o->md_path);
    return -1;
  }
  time_t now = time(NULL);
  struct tm tmv;
  char date[64] = "?";
  if (gmtime_r(&now, &tmv)) strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tmv);
  fprintf(f, "## %s\n\n", title);
  if (intro && *intro) fprintf(f, "%s\n\n", intro);
  fprintf(f, "- date: %s\n", date);
  fprintf(f, "- device: %s (sm_%d%d, %d SMs, L2 %.1f MiB, %.1f GiB)\n", d->name, d->cc_major,
          d->cc_minor, d->n_sm, (double)d->l2_bytes / 1048576.0,
          (double)d->global_bytes / 1073741824.0);
  fprintf(f, "- driver %d.%d, CUDA runtime %d.%d, cuBLASLt %zu\n", d->driver_version / 1000,
          (d->driver_version % 1000) / 10, d->runtime_version / 1000,
          (d->runtime_version % 1000) / 10, d->cublaslt_version);
  fprintf(f,
          "- copy bandwidth: %.0f GB/s (cudaMemcpyAsync device to device, %.0f MiB, read + "
          "write bytes)\n",
          d->copy_gbps, (double)d->copy_bytes / 1048576.0);
  fprintf(f, "- command: `%s`\n", o->command);
  fprintf(f,
          "- timing: CUDA events per call after warm-up; median (min) of up to %d reps; inputs "
          "rotated past 2 x L2; validated against cpu_ref before timing\n\n",
          o->max_reps);
  fprintf(f, "| op | shape | variant | time (median, min) | GB/s | TFLOP/s | vs baseline |\n");
  fprintf(f, "|---|---|---|---|---:|---:|---|\n");
  for (size_t i = 0; i < res.n; i++) {
    const lcb_row *r = &res.rows[i];
    fprintf(f, "| %s | %s | %s | %s | %s | %s | %s |\n", r->op, r->shape, r->variant, r->time,
            r->gbps, r->tflops, r->vs);
  }
  if (res.notes_len) fprintf(f, "\n%s", res.notes);
  fprintf(f, "\n");
  int rc = fclose(f) == 0 ? 0 : -1;
  if (rc == 0) printf("markdown written to %s\n", o->md_path);
  return rc;
}

/* ---- random data -------------------------------------------------------------*/

lcb_rng lcb_rng_new(uint64_t seed) {
  lcb_rng r = {seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull};
  return r;
}

uint64_t lcb_next(lcb_rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float lcb_uniformf(lcb_rng *r, float scale) {
  /* an odd 24-bit integer minus 2^23 is never 0: values in (-1, 1) \ {0} */
  int32_t u = (int32_t)((lcb_next(r) >> 40) | 1u);
  return scale * ((float)(u - (1 << 23)) * 0x1p-23f);
}

void lcb_fill_f32(lcb_rng *r, float *v, int64_t n, float scale) {
  for (int64_t i = 0; i < n; i++) v[i] = lcb_uniformf(r, scale);
}

void lcb_fill_bf16(lcb_rng *r, uint16_t *v, int64_t n, float scale) {
  for (int64_t i = 0; i < n; i++) v[i] = lc_f32_to_bf16(lcb_uniformf(r, scale));
}

/* ---- memory and checks -------------------------------------------------------*/

void *lcb_malloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "bench: out of host memory (%zu bytes)\n", bytes);
    exit(1);
  }
  return p;
}

void lcb_check(lc_context *ctx, lc_status st, const char *what) {
  if (st == LC_OK) return;
  fprintf(stderr, "bench: %s: %s: %s\n", what, lc_status_name(st), lc_last_error(ctx));
  exit(1);
}

void *lcb_dalloc(lc_context *ctx, size_t bytes) {
  void *p = NULL;
  lcb_check(ctx, lc_buffer_alloc(ctx, bytes, &p), "lc_buffer_alloc");
  return p;
}

void lcb_upload(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  lcb_check(ctx, lc_buffer_write(ctx, dst, src, bytes), "lc_buffer_write");
}

void lcb_download(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  lcb_check(ctx, lc_buffer_read(ctx, dst, src, bytes), "lc_buffer_read");
}

void lcb_dcopy(lc_context *ctx, void *dst, const void *src, size_t bytes) {
  cuda_ok(
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, (cudaStream_t)lc_cuda_stream(ctx)),
      "cudaMemcpyAsync D2D");
}

void lcb_sync(lc_context *ctx) {
  lcb_check(ctx, lc_context_synchronize(ctx), "lc_context_synchronize");
}

int lcb_check_bitwise(const float *got, const float *ref, int64_t n, const char *what) {
  if (memcmp(got, ref, (size_t)n * sizeof(float)) == 0) return 1;
  for (int64_t i = 0; i < n; i++) {
    if (lc_f32_bits(got[i]) != lc_f32_bits(ref[i])) {
      printf(
          "VALIDATION FAIL %s: not bitwise equal to CPU strict: first difference at [%lld]: "
          "ref %.9g (0x%08X) got %.9g (0x%08X)\n",
          what, (long long)i, (double)ref[i], lc_f32_bits(ref[i]), (double)got[i],
          lc_f32_bits(got[i]));
      break;
    }
  }
  return 0;
}
