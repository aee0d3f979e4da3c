/*
 * lib/cublaslt_loader.c — libcublasLt loaded on first use with dlopen, its
 * functions resolved with dlsym into the table of lib/cublaslt_loader.h.
 *
 * Why: linked as a DT_NEEDED dependency, libcublasLt.so.13 (541 MB) is
 * mapped and relocated when any program linked to layercast starts, GPU or
 * not: `layercast version` took 0.44-0.6 s and 217 MB of RSS instead of
 * 0.01 s and 5 MB.  libcudart stays linked normally (it costs ~1 MB).
 *
 * First use, i.e. when the library is loaded:
 *   - lc_context_create of a CUDA context in a vendor mode (vendor-bf16,
 *     vendor-fp32): lib/vendor.c creates the context's cuBLASLt handle
 *     there, so a missing or broken libcublasLt fails the creation with
 *     LC_ERR_CUBLAS, as a failing cublasLtCreate did before;
 *   - lc_vendor_sgemm_prewidened on a CUDA context of any mode (the
 *     benchmarks' baseline), on its first call on that context;
 *   - lc_context_get_device_info on a CUDA context (and so
 *     lc_env_fingerprint_json), for cublaslt_version.  There a library that
 *     cannot be loaded gives version 0 and the call still succeeds: strict
 *     work does not need cuBLASLt.
 * Never for a CPU context, nor for a strict CUDA context that does not ask
 * for the above: strict matmuls are layercast's own kernels.
 *
 * Names tried: libcublasLt.so.<CUBLAS_VER_MAJOR of the headers built
 * against> (13), then libcublasLt.so; the usual search (the calling
 * object's RUNPATH, LD_LIBRARY_PATH, ld.so.cache) as for a linked library.
 * A library whose cublasLtGetVersion() has another major version is
 * refused (the ABI of the headers is what the table's types assume).
 *
 * Threads: the load runs once per process under pthread_once, so two
 * threads creating contexts at once load it once and both see the table.
 * A failed load is not retried.  The library is never dlclose'd: handles and
 * cached plans may use it until the process exits.
 */
#define _POSIX_C_SOURCE 200809L /* dlopen, pthread_once */

#include "lib/lc_internal.h"

#if defined(LC_HAVE_CUDA)

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/cublaslt_loader.h"

#define LT_STR_(x) #x
#define LT_STR(x) LT_STR_(x)
/* The soname of the major version <cublasLt.h> describes. */
#define LT_SONAME "libcublasLt.so." LT_STR(CUBLAS_VER_MAJOR)

/* Each table entry has the type of the prototype in <cublasLt.h> (the
 * operand of _Generic is not evaluated: no reference to the symbol). */
#define LT_CHECK_(ret, name, params)                              \
  _Static_assert(_Generic(&name, ret(*) params : 1, default : 0), \
                 #name ": its LC_CUBLASLT_FUNCTIONS entry differs from <cublasLt.h>");
LC_CUBLASLT_FUNCTIONS(LT_CHECK_)
#undef LT_CHECK_

/* dlsym's void * is copied into a function pointer of the same size. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function and object pointers differ");

static pthread_once_t lt_once = PTHREAD_ONCE_INIT;
static lc_cublaslt lt_table;         /* filled by lt_load */
static const lc_cublaslt *lt_loaded; /* &lt_table once loaded, else NULL */
static char lt_error[LC_ERR_LEN - 96];

/* Appends to lt_error (truncating). */
static void lt_note(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static void lt_note(const char *fmt, ...) {
  size_t used = strlen(lt_error);
  if (used + 1 >= sizeof lt_error) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(lt_error + used, sizeof lt_error - used, fmt, ap);
  va_end(ap);
}

/* *dst (a function pointer of `bytes` bytes) = dlsym(lib, name); 0 if absent. */
static int lt_resolve(void *lib, const char *file, const char *name, void *dst, size_t bytes) {
  (void)dlerror();
  void *sym = dlsym(lib, name);
  if (!sym) {
    const char *why = dlerror();
    lt_note("cuBLASLt: dlsym(%s) in %s failed: %s", name, file, why ? why : "no such symbol");
    return 0;
  }
  memcpy(dst, &sym, bytes);
  return 1;
}

static void lt_load(void) {
  static const char *const names[] = {LT_SONAME, "libcublasLt.so"};
  void *lib = NULL;
  const char *file = NULL;
  lt_error[0] = '\0';
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !lib; i++) {
    file = names[i];
    lib = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *why = dlerror();
      lt_note("%sdlopen(%s): %s", i ? "; " : "", file, why ? why : "failed");
    }
  }
  if (!lib) {
    char tried[sizeof lt_error];
    memcpy(tried, lt_error, sizeof tried);
    lt_error[0] = '\0';
    lt_note(
        "cuBLASLt (the vendor modes' GEMMs) could not be loaded: %s.  Install the CUDA "
        "toolkit's cuBLAS %d or put its lib folder in LD_LIBRARY_PATH",
        tried, CUBLAS_VER_MAJOR);
    return;
  }
  lt_error[0] = '\0';
  lc_cublaslt t;
  int ok = 1;
#define LT_RESOLVE_(ret, name, params) \
  if (ok) ok = lt_resolve(lib, file, #name, (void *)&t.name, sizeof t.name);
  LC_CUBLASLT_FUNCTIONS(LT_RESOLVE_)
#undef LT_RESOLVE_
  if (ok) {
    size_t v = t.cublasLtGetVersion();
    if (v / 10000 != CUBLAS_VER_MAJOR) {
      lt_note(
          "cuBLASLt: %s is version %zu; layercast was built against the headers of cuBLAS "
          "%d.%d (their ABI): install that major version",
          file, v, CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR);
      ok = 0;
    }
  }
  if (!ok) {
    dlclose(lib);
    return;
  }
  lt_table = t;
  lt_loaded = &lt_table;
}

const lc_cublaslt *lc_cublaslt_api(void) {
  pthread_once(&lt_once, lt_load);
  return lt_loaded;
}

const char *lc_cublaslt_load_error(void) {
  pthread_once(&lt_once, lt_load);
  return lt_error;
}

lc_status lc_cublaslt_require(lc_context *ctx, const char *fn, const lc_cublaslt **out) {
  *out = lc_cublaslt_api();
  if (!*out) return LC_FAIL(ctx, LC_ERR_CUBLAS, "%s: %s", fn, lc_cublaslt_load_error());
  return LC_OK;
}

#endif /* LC_HAVE_CUDA */
