/* Links against an installed layercast and runs one strict matmul. */
#include <layercast.h>
#include <stdio.h>

int main(void) {
  lc_context *ctx = NULL;
  if (lc_context_create(NULL, &ctx) != LC_OK) {
    fprintf(stderr, "%s\n", lc_last_error(NULL));
    return 1;
  }
  const float w[6] = {1, 2, 3, 4, 5, 6}, x[3] = {1, 1, 1};
  float y[2];
  lc_weights *wt = NULL;
  lc_status st = lc_weights_create(ctx, 2, 3, LC_DTYPE_F32, w, &wt);
  if (st == LC_OK) st = lc_matmul(ctx, x, 1, wt, NULL, y);
  lc_weights_free(wt);
  lc_context_free(ctx);
  if (st != LC_OK || y[0] != 6.0f || y[1] != 15.0f) {
    fprintf(stderr, "consumer: %s, y = %g %g\n", lc_status_name(st), (double)y[0], (double)y[1]);
    return 1;
  }
  printf("consumer: layercast %s OK (y = %g %g)\n", lc_version_string(), (double)y[0],
         (double)y[1]);
  return 0;
}
