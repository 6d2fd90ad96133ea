/* SPDX-License-Identifier: Apache-2.0 */
/* The README's C snippet (extracted into <build>/tests/readme) compiled as C99 and run with the
 * variables it assumes, its GEMM checked against the definition. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "qinfer/c/qinfer.h"

enum { M = 3, K = 5, N = 4 };

static size_t runs = 0;

/* An engine's pool that runs the tasks in order on the calling thread. */
static void my_pool_run(void* pool, size_t tasks, qinfer_task task, void* context) {
  size_t i;
  ++*(size_t*)pool;
  for (i = 0; i < tasks; ++i) task(context, i);
}

int main(void) {
  const uint8_t a[M * K] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const int8_t b[K * N] = {1,  -2,  3,  -4,  5,  -6,  7,  -8,  9,  -10,
                           11, -12, 13, -14, 15, -16, 17, -18, 19, -20};
  const int32_t bias[N] = {100, 200, 300, 400};
  const float scales[N] = {0.01f, 0.02f, 0.03f, 0.04f};
  const int32_t a_zero_point = 2, out_zero_point = 128;
  void* my_pool = &runs;
  uint8_t c[M * N];
  int exact = 1;
  size_t m, n, k;
#include "readme/c_gemm.inc"
  for (m = 0; m < M; ++m) {
    for (n = 0; n < N; ++n) {
      int32_t acc = bias[n];
      float v;
      for (k = 0; k < K; ++k) acc += (a[m * K + k] - a_zero_point) * b[k * N + n];
      v = nearbyintf((float)acc * scales[n]) + (float)out_zero_point;
      v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
      exact &= c[m * N + n] == (uint8_t)v;
    }
  }
  printf("README C snippet: status %s, %zu pool run(s), %s\n", qinfer_status_name(status), runs,
         exact ? "exact" : "WRONG");
  return status == QINFER_OK && exact && runs > 0 ? 0 : 1;
}
