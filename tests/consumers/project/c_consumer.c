/* SPDX-License-Identifier: Apache-2.0 */
/* A C consumer of the installed libqinfer_c: quantize through the C ABI. */
#include <qinfer/c/qinfer.h>
#include <stdio.h>

int main(void) {
  const float x[3] = {-1.0f, 0.0f, 1.0f};
  int8_t q[3];
  qinfer_quant_params p;
  if (qinfer_choose_params(QINFER_TYPE_INT8, QINFER_SCHEME_SYMMETRIC_NARROW, -1.0f, 1.0f, &p) !=
          QINFER_OK ||
      qinfer_quantize(x, 3, QINFER_TYPE_INT8, p, q) != QINFER_OK) {
    printf("failed: %s\n", qinfer_last_error());
    return 1;
  }
  printf("qinfer %s (header %d): %d %d %d on %s\n", qinfer_version_string(), QINFER_VERSION, q[0],
         q[1], q[2], qinfer_isa_name(qinfer_active_isa()));
  return q[0] == -127 && q[1] == 0 && q[2] == 127 && qinfer_version() == QINFER_VERSION ? 0 : 1;
}
