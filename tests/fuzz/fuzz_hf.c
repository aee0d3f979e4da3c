/*
 * tests/fuzz/fuzz_hf.c — lc_model_load on a Hugging Face folder
 * (lib/ckpt_hf.c).  The input is split at FUZZ_SEP: part 0 is config.json;
 * with 2 parts, part 1 is model.safetensors; with 3 or more, part 1 is
 * model.safetensors.index.json and parts 2.. are the shards
 * model-0000K-of-0000N.safetensors (N = parts - 2).
 * Asserts what fuzz_llama2c.c does (format hf).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "include/layercast_model.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lc_context *ctx = fuzz_context();
  char dir[256], path[512];
  fuzz_path(dir, sizeof dir, "hf");
  mkdir(dir, 0700);
  fuzz_clear_dir(dir);
  fuzz_parts parts;
  fuzz_split(data, size, &parts);
  snprintf(path, sizeof path, "%s/config.json", dir);
  fuzz_write(path, parts.p[0], parts.n[0]);
  if (parts.count == 2) {
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    fuzz_write(path, parts.p[1], parts.n[1]);
  } else if (parts.count >= 3) {
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    fuzz_write(path, parts.p[1], parts.n[1]);
    for (int i = 2; i < parts.count; i++) {
      snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", dir, i - 1, parts.count - 2);
      fuzz_write(path, parts.p[i], parts.n[i]);
    }
  }
  lc_model_load_params p;
  lc_model_load_params_default(&p);
  lc_model *m = (lc_model *)&p;
  lc_status st = lc_model_load(ctx, dir, &p, &m);
  if (st == LC_OK) {
    FUZZ_CHECK(m != NULL, "LC_OK without a model");
    fuzz_check_model(m, LC_FORMAT_HF);
    lc_model_free(m);
  } else {
    fuzz_check_failed("lc_model_load (hf)", st, m, ctx);
  }
  return 0;
}
