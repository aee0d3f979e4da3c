/*
 * tests/fuzz/fuzz_llama2c.c — lc_model_load on a llama2.c checkpoint: the
 * input is the file (lib/ckpt_llama2c.c).
 * Asserts: the load succeeds with a model whose lc_model_get_info works and
 * agrees with the header it was given (format llama2c, positive shapes,
 * n_params > 0, weights_bytes == 2 * n_params), or fails with a status, a
 * message and no model.  Leaks are LeakSanitizer's to find.
 */
#include <stdio.h>
#include <string.h>

#include "include/layercast_model.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lc_context *ctx = fuzz_context();
  char path[256];
  fuzz_path(path, sizeof path, "model.bin");
  fuzz_write(path, data, size);
  lc_model_load_params p;
  lc_model_load_params_default(&p);
  /* AUTO (by content) and LLAMA2C (forced) take different paths */
  if (size > 0 && (data[size - 1] & 1)) p.format = LC_FORMAT_LLAMA2C;
  lc_model *m = (lc_model *)&p; /* not NULL: a failed load must clear it */
  lc_status st = lc_model_load(ctx, path, &p, &m);
  if (st == LC_OK) {
    FUZZ_CHECK(m != NULL, "LC_OK without a model");
    fuzz_check_model(m, LC_FORMAT_LLAMA2C);
    lc_model_free(m);
  } else {
    fuzz_check_failed("lc_model_load (llama2.c)", st, m, ctx);
  }
  return 0;
}
