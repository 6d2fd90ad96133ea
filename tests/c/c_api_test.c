/* SPDX-License-Identifier: Apache-2.0 */
/* The C ABI from C99: every call against a plain C computation of the same definition, errors
 * as status codes, and GEMM and convolution through a caller's thread pool (POSIX threads) with
 * 1, 2 and 7 workers giving the serial results byte for byte. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qinfer/c/qinfer.h"

static int failures = 0;
static int checks = 0;

static void check(int condition, const char* what, int line) {
  ++checks;
  if (!condition) {
    ++failures;
    printf("FAILED (line %d): %s [last error: %s]\n", line, what, qinfer_last_error());
  }
}
#define CHECK(condition) check((condition) != 0, #condition, __LINE__)

/* A small deterministic generator (xorshift32). */
static uint32_t rng_state = 12345u;
static uint32_t next_random(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}
static int random_in(int lo, int hi) {
  return lo + (int)(next_random() % (uint32_t)(hi - lo + 1));
}

/* ------------------------------------------------------------------------------------------ */
/* A caller's pool: each run() starts `workers` threads that take task indices from a counter. */

typedef struct {
  size_t workers;
  size_t runs;
} test_pool;

typedef struct {
  pthread_mutex_t lock;
  size_t next, tasks;
  qinfer_task task;
  void* context;
} pool_call;

static void* pool_worker(void* argument) {
  pool_call* call = (pool_call*)argument;
  for (;;) {
    size_t index;
    pthread_mutex_lock(&call->lock);
    index = call->next++;
    pthread_mutex_unlock(&call->lock);
    if (index >= call->tasks) return NULL;
    call->task(call->context, index);
  }
}

static void pool_run(void* pool, size_t tasks, qinfer_task task, void* context);

/* An executor over `pool`, which gets `workers` threads. */
static qinfer_executor pool_executor(test_pool* pool, size_t workers) {
  qinfer_executor executor;
  pool->workers = workers;
  pool->runs = 0;
  executor.run = pool_run;
  executor.pool = pool;
  return executor;
}

static void pool_run(void* pool, size_t tasks, qinfer_task task, void* context) {
  test_pool* p = (test_pool*)pool;
  pool_call call;
  pthread_t threads[16];
  size_t i;
  pthread_mutex_init(&call.lock, NULL);
  call.next = 0;
  call.tasks = tasks;
  call.task = task;
  call.context = context;
  for (i = 0; i < p->workers; ++i) pthread_create(&threads[i], NULL, pool_worker, &call);
  for (i = 0; i < p->workers; ++i) pthread_join(threads[i], NULL);
  pthread_mutex_destroy(&call.lock);
  ++p->runs;
}

/* ------------------------------------------------------------------------------------------ */

static void test_version_and_isa(void) {
  char expected[32];
  qinfer_isa isa = QINFER_ISA_SCALAR, cap = QINFER_ISA_SCALAR;
  CHECK(qinfer_version() == QINFER_VERSION);
  snprintf(expected, sizeof expected, "%d.%d.%d", QINFER_VERSION_MAJOR, QINFER_VERSION_MINOR,
           QINFER_VERSION_PATCH);
  CHECK(strcmp(qinfer_version_string(), expected) == 0);

  CHECK(qinfer_isa_supported(qinfer_best_isa()));
  CHECK(qinfer_isa_supported(QINFER_ISA_SCALAR));
  CHECK(!qinfer_isa_supported((qinfer_isa)99));
  CHECK(qinfer_isa_name((qinfer_isa)99) == NULL);
  CHECK(qinfer_isa_from_name(qinfer_isa_name(qinfer_best_isa()), &isa) == QINFER_OK);
  CHECK(isa == qinfer_best_isa());
  CHECK(qinfer_isa_from_name("avx1024", &isa) == QINFER_INVALID_ARGUMENT);
  CHECK(strlen(qinfer_last_error()) > 0);
  CHECK(qinfer_set_isa_cap((qinfer_isa)99) == QINFER_INVALID_ARGUMENT);

  CHECK(qinfer_set_isa_cap(QINFER_ISA_SCALAR) == QINFER_OK);
  CHECK(qinfer_active_isa() == QINFER_ISA_SCALAR);
  CHECK(qinfer_get_isa_cap(&cap) == 1 && cap == QINFER_ISA_SCALAR);
  qinfer_clear_isa_cap();
  CHECK(qinfer_get_isa_cap(&cap) == 0);
  CHECK(qinfer_active_isa() == qinfer_best_isa() || getenv("QINFER_ISA") != NULL);
  printf("paths: best %s, active %s\n", qinfer_isa_name(qinfer_best_isa()),
         qinfer_isa_name(qinfer_active_isa()));
}

static void test_quantization(void) {
  qinfer_quant_params p;
  const float x[5] = {-1.0f, 0.0f, 0.5f, 2.0f, 100.0f};
  uint8_t q[5];
  float back[5];
  qinfer_fixed_multiplier m;
  CHECK(qinfer_choose_params(QINFER_TYPE_UINT8, QINFER_SCHEME_AFFINE, -1.0f, 3.0f, &p) ==
        QINFER_OK);
  CHECK(p.zero_point == 64 && fabsf(p.scale - 4.0f / 255.0f) < 1e-7f);
  CHECK(qinfer_choose_params(QINFER_TYPE_INT8, QINFER_SCHEME_SYMMETRIC_NARROW, -2.0f, 1.0f, &p) ==
        QINFER_OK);
  CHECK(p.zero_point == 0 && fabsf(p.scale - 2.0f / 127.0f) < 1e-7f);
  CHECK(qinfer_choose_params(QINFER_TYPE_UINT8, QINFER_SCHEME_AFFINE, 2.0f, 1.0f, &p) ==
        QINFER_INVALID_RANGE);

  p.scale = 0.5f;
  p.zero_point = 10;
  CHECK(qinfer_quantize(x, 5, QINFER_TYPE_UINT8, p, q) == QINFER_OK);
  CHECK(q[0] == 8 && q[1] == 10 && q[2] == 11 && q[3] == 14 && q[4] == 210);
  CHECK(qinfer_dequantize(q, 5, QINFER_TYPE_UINT8, p, back) == QINFER_OK);
  CHECK(back[0] == -1.0f && back[2] == 0.5f && back[4] == 100.0f);
  p.scale = -1.0f;
  CHECK(qinfer_quantize(x, 5, QINFER_TYPE_UINT8, p, q) == QINFER_INVALID_SCALE);
  p.scale = 1.0f;
  p.zero_point = 300;
  CHECK(qinfer_quantize(x, 5, QINFER_TYPE_UINT8, p, q) == QINFER_INVALID_ZERO_POINT);
  p.zero_point = 0;
  CHECK(qinfer_quantize(NULL, 5, QINFER_TYPE_UINT8, p, q) == QINFER_NULL_POINTER);
  CHECK(qinfer_quantize(x, 5, (qinfer_type)7, p, q) == QINFER_INVALID_ARGUMENT);

  CHECK(qinfer_quantize_multiplier(0.25, &m) == QINFER_OK);
  CHECK(m.multiplier == 1073741824 && m.shift == -1);
  CHECK(qinfer_quantize_multiplier(-1.0, &m) == QINFER_INVALID_SCALE);
  CHECK(strcmp(qinfer_status_name(QINFER_SHAPE_MISMATCH), "shape mismatch") == 0);
  CHECK(strcmp(qinfer_status_name(QINFER_OUT_OF_MEMORY), "out of memory") == 0);
}

/* sum_k (a - za)(b - zb[n]) + bias[n], the definition of the GEMM's int32 sums. */
static int32_t dot(const uint8_t* a, size_t lda, int32_t za, const int8_t* b, size_t ldb,
                   const int32_t* zb, const int32_t* bias, size_t k, size_t m, size_t n) {
  int64_t sum = bias[n];
  size_t i;
  for (i = 0; i < k; ++i)
    sum += (int64_t)((int32_t)a[m * lda + i] - za) * ((int32_t)b[i * ldb + n] - zb[n]);
  return (int32_t)sum;
}

static uint8_t requantize(int32_t acc, float scale, int32_t zero_point, int32_t lo, int32_t hi) {
  float v = nearbyintf((float)acc * scale);
  if (v < (float)(lo - zero_point)) v = (float)(lo - zero_point);
  if (v > (float)(hi - zero_point)) v = (float)(hi - zero_point);
  return (uint8_t)((int32_t)v + zero_point);
}

static void test_gemm(void) {
  enum { M = 67, K = 131, N = 45, LDA = K + 3, LDB = N + 2, LDC = N + 5 };
  static uint8_t a[M * LDA];
  static int8_t b[K * LDB];
  static int32_t c32[M * LDC];
  static uint8_t c8[M * LDC], threaded[M * LDC];
  static float cf[M * LDC];
  int32_t zb[N], bias[N];
  float scales[N], dequant[N];
  size_t i, m, n, workers;
  const int32_t za = 131;
  qinfer_packed_gemm* w = NULL;
  qinfer_output_stage stage;
  int exact32 = 1, exact8 = 1, exactf = 1;

  for (i = 0; i < M * LDA; ++i) a[i] = (uint8_t)random_in(0, 255);
  for (i = 0; i < K * LDB; ++i) b[i] = (int8_t)random_in(-128, 127);
  for (n = 0; n < N; ++n) {
    zb[n] = random_in(-3, 3);
    bias[n] = random_in(-5000, 5000);
    scales[n] = 1.0f / (float)random_in(2000, 9000);
    dequant[n] = 0.001f * (float)(n + 1);
  }
  CHECK(qinfer_pack_gemm(QINFER_TYPE_INT8, b, K, N, LDB, zb, N, bias, N, &w) == QINFER_OK);
  CHECK(qinfer_packed_gemm_k(w) == K && qinfer_packed_gemm_n(w) == N);
  CHECK(qinfer_packed_gemm_bytes(w) >= K * N);

  memset(&stage, 0, sizeof stage);
  stage.kind = QINFER_OUTPUT_INT32;
  CHECK(qinfer_gemm(QINFER_TYPE_UINT8, a, M, LDA, za, w, &stage, c32, LDC, NULL) == QINFER_OK);
  stage.kind = QINFER_OUTPUT_UINT8;
  stage.scales = scales;
  stage.count = N;
  stage.zero_point = 7;
  stage.min = 7;
  stage.max = 250;
  CHECK(qinfer_gemm(QINFER_TYPE_UINT8, a, M, LDA, za, w, &stage, c8, LDC, NULL) == QINFER_OK);
  stage.kind = QINFER_OUTPUT_FLOAT;
  stage.scales = dequant;
  CHECK(qinfer_gemm(QINFER_TYPE_UINT8, a, M, LDA, za, w, &stage, cf, LDC, NULL) == QINFER_OK);
  for (m = 0; m < M; ++m) {
    for (n = 0; n < N; ++n) {
      const int32_t acc = dot(a, LDA, za, b, LDB, zb, bias, K, m, n);
      exact32 &= c32[m * LDC + n] == acc;
      exact8 &= c8[m * LDC + n] == requantize(acc, scales[n], 7, 7, 250);
      exactf &= cf[m * LDC + n] == (float)acc * dequant[n];
    }
  }
  CHECK(exact32);
  CHECK(exact8);
  CHECK(exactf);

  /* The caller's pool: the same bytes for any number of workers. */
  stage.kind = QINFER_OUTPUT_UINT8;
  stage.scales = scales;
  for (workers = 1; workers <= 7; workers += workers == 1 ? 1 : 5) {
    test_pool pool;
    const qinfer_executor executor = pool_executor(&pool, workers);
    memset(threaded, 0, sizeof threaded);
    CHECK(qinfer_gemm(QINFER_TYPE_UINT8, a, M, LDA, za, w, &stage, threaded, LDC, &executor) ==
          QINFER_OK);
    CHECK(pool.runs == 1);
    for (m = 0; m < M; ++m) CHECK(memcmp(threaded + m * LDC, c8 + m * LDC, N) == 0);
  }

  /* The same weights packed into the caller's memory: the same bytes out. */
  {
    const size_t size = qinfer_pack_gemm_buffer_size(K, N);
    void* buffer = NULL;
    qinfer_packed_gemm* mine = NULL;
    CHECK(size >= qinfer_packed_gemm_bytes(w) && posix_memalign(&buffer, 64, size) == 0);
    CHECK(qinfer_pack_gemm_into(buffer, size - 1, QINFER_TYPE_INT8, b, K, N, LDB, zb, N, bias, N,
                                &mine) == QINFER_INVALID_ARGUMENT);
    CHECK(qinfer_pack_gemm_into((char*)buffer + 8, size - 8, QINFER_TYPE_INT8, b, K, N, LDB, zb, N,
                                bias, N, &mine) == QINFER_INVALID_ARGUMENT);
    CHECK(mine == NULL);
    CHECK(qinfer_pack_gemm_into(buffer, size, QINFER_TYPE_INT8, b, K, N, LDB, zb, N, bias, N,
                                &mine) == QINFER_OK);
    CHECK((void*)mine == buffer);
    memset(threaded, 0, sizeof threaded);
    CHECK(qinfer_gemm(QINFER_TYPE_UINT8, a, M, LDA, za, mine, &stage, threaded, LDC, NULL) ==
          QINFER_OK);
    for (m = 0; m < M; ++m) CHECK(memcmp(threaded + m * LDC, c8 + m * LDC, N) == 0);
    qinfer_packed_gemm_destroy(mine);
    free(buffer);
  }

  /* Errors. */
  CHECK(qinfer_gemm(QINFER_TYPE_UINT8, a, M, LDA, za, NULL, &stage, c8, LDC, NULL) ==
        QINFER_NULL_POINTER);
  CHECK(qinfer_gemm(QINFER_TYPE_UINT8, NULL, M, LDA, za, w, &stage, c8, LDC, NULL) ==
        QINFER_NULL_POINTER);
  CHECK(qinfer_gemm(QINFER_TYPE_UINT8, a, M, LDA, 256, w, &stage, c8, LDC, NULL) ==
        QINFER_INVALID_ZERO_POINT);
  stage.count = 2;
  CHECK(qinfer_gemm(QINFER_TYPE_UINT8, a, M, LDA, za, w, &stage, c8, LDC, NULL) ==
        QINFER_SHAPE_MISMATCH);
  stage.count = N;
  stage.kind = (qinfer_output_kind)42;
  CHECK(qinfer_gemm(QINFER_TYPE_UINT8, a, M, LDA, za, w, &stage, c8, LDC, NULL) ==
        QINFER_INVALID_ARGUMENT);
  CHECK(qinfer_gemm(QINFER_TYPE_UINT8, a, M, LDA, za, w, NULL, c8, LDC, NULL) ==
        QINFER_NULL_POINTER);
  qinfer_packed_gemm_destroy(w);
  w = NULL;
  CHECK(qinfer_pack_gemm(QINFER_TYPE_INT8, b, K, N, LDB, zb, 3, NULL, 0, &w) ==
        QINFER_SHAPE_MISMATCH);
  CHECK(w == NULL);
  qinfer_packed_gemm_destroy(NULL);
}

static void test_conv2d(void) {
  enum { B = 2, H = 19, W = 23, C = 12, O = 20, KH = 3, KW = 3 };
  qinfer_conv2d_shape shape;
  size_t oh = 0, ow = 0, bytes = 0, i, workers, count;
  static uint8_t input[B * H * W * C];
  static int8_t weights[O * KH * KW * C];
  static int32_t out32[B * H * W * O];
  static uint8_t out8[B * H * W * O], threaded[B * H * W * O];
  int32_t bias[O];
  float scales[O];
  const int32_t zx = 128;
  const int32_t zw = 0;
  qinfer_packed_conv2d* w = NULL;
  qinfer_output_stage stage;
  void* workspace;
  int exact = 1;
  size_t b, y, x, o, ky, kx, c;

  memset(&shape, 0, sizeof shape);
  shape.batch = B;
  shape.in_channels = C;
  shape.out_channels = O;
  shape.groups = 1;
  shape.in_height = H;
  shape.in_width = W;
  shape.kernel_height = KH;
  shape.kernel_width = KW;
  shape.stride_height = 2;
  shape.stride_width = 1;
  shape.dilation_height = 1;
  shape.dilation_width = 2;
  shape.pad_top = 1;
  shape.pad_bottom = 0;
  shape.pad_left = 2;
  shape.pad_right = 1;
  for (i = 0; i < sizeof input; ++i) input[i] = (uint8_t)random_in(0, 255);
  for (i = 0; i < sizeof weights; ++i) weights[i] = (int8_t)random_in(-127, 127);
  for (i = 0; i < O; ++i) {
    bias[i] = random_in(-1000, 1000);
    scales[i] = 1.0f / (float)random_in(500, 3000);
  }
  CHECK(qinfer_conv2d_output_size(&shape, &oh, &ow) == QINFER_OK);
  CHECK(oh == (H + 1 - 3) / 2 + 1 && ow == (W + 3 - 5) + 1);
  CHECK(qinfer_conv2d_workspace_bytes(&shape, &bytes) == QINFER_OK);
  CHECK(qinfer_pack_conv2d(&shape, weights, &zw, 1, bias, O, &w) == QINFER_OK);

  memset(&stage, 0, sizeof stage);
  stage.kind = QINFER_OUTPUT_INT32;
  workspace = bytes > 0 ? malloc(bytes) : NULL;
  CHECK(qinfer_conv2d(&shape, QINFER_TYPE_UINT8, input, zx, w, &stage, out32, workspace, bytes,
                      NULL) == QINFER_OK);
  for (b = 0; b < B; ++b) {
    for (y = 0; y < oh; ++y) {
      for (x = 0; x < ow; ++x) {
        for (o = 0; o < O; ++o) {
          int64_t acc = bias[o];
          for (ky = 0; ky < KH; ++ky) {
            for (kx = 0; kx < KW; ++kx) {
              const long iy = (long)(y * 2 + ky) - 1, ix = (long)(x + kx * 2) - 2;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              for (c = 0; c < C; ++c) {
                acc += (int64_t)(input[((b * H + (size_t)iy) * W + (size_t)ix) * C + c] - zx) *
                       weights[((o * KH + ky) * KW + kx) * C + c];
              }
            }
          }
          exact &= out32[((b * oh + y) * ow + x) * O + o] == (int32_t)acc;
        }
      }
    }
  }
  CHECK(exact);

  stage.kind = QINFER_OUTPUT_UINT8;
  stage.scales = scales;
  stage.count = O;
  stage.zero_point = 0;
  stage.min = 0;
  stage.max = 255;
  count = B * oh * ow * O;
  CHECK(qinfer_conv2d(&shape, QINFER_TYPE_UINT8, input, zx, w, &stage, out8, NULL, 0, NULL) ==
        QINFER_OK);
  exact = 1;
  for (i = 0; i < count; ++i) exact &= out8[i] == requantize(out32[i], scales[i % O], 0, 0, 255);
  CHECK(exact);
  for (workers = 1; workers <= 7; workers += workers == 1 ? 1 : 5) {
    test_pool pool;
    const qinfer_executor executor = pool_executor(&pool, workers);
    memset(threaded, 0, sizeof threaded);
    CHECK(qinfer_conv2d(&shape, QINFER_TYPE_UINT8, input, zx, w, &stage, threaded, workspace, bytes,
                        &executor) == QINFER_OK);
    CHECK(pool.runs >= 1);
    CHECK(memcmp(threaded, out8, count) == 0);
  }

  /* The filter packed into the caller's memory: the same bytes out. */
  {
    const size_t size = qinfer_pack_conv2d_buffer_size(&shape);
    void* buffer = NULL;
    qinfer_packed_conv2d* mine = NULL;
    CHECK(size > 0 && posix_memalign(&buffer, 64, size) == 0);
    CHECK(qinfer_pack_conv2d_into(buffer, size - 1, &shape, weights, &zw, 1, bias, O, &mine) ==
          QINFER_INVALID_ARGUMENT);
    CHECK(qinfer_pack_conv2d_into(buffer, size, &shape, weights, &zw, 1, bias, O, &mine) ==
          QINFER_OK);
    memset(threaded, 0, sizeof threaded);
    CHECK(qinfer_conv2d(&shape, QINFER_TYPE_UINT8, input, zx, mine, &stage, threaded, workspace,
                        bytes, NULL) == QINFER_OK);
    CHECK(memcmp(threaded, out8, count) == 0);
    qinfer_packed_conv2d_destroy(mine);
    free(buffer);
  }

  /* Errors: a workspace too small, misaligned, a filter for another shape. */
  if (bytes > 0) {
    CHECK(qinfer_conv2d(&shape, QINFER_TYPE_UINT8, input, zx, w, &stage, out8, workspace, bytes - 4,
                        NULL) == QINFER_INVALID_ARGUMENT);
    CHECK(qinfer_conv2d(&shape, QINFER_TYPE_UINT8, input, zx, w, &stage, out8, (char*)workspace + 1,
                        bytes - 4, NULL) == QINFER_INVALID_ARGUMENT);
  }
  shape.in_channels = C - 1;
  CHECK(qinfer_conv2d(&shape, QINFER_TYPE_UINT8, input, zx, w, &stage, out8, NULL, 0, NULL) !=
        QINFER_OK);
  shape.in_channels = C;
  shape.groups = 0;
  CHECK(qinfer_conv2d_workspace_bytes(&shape, &bytes) != QINFER_OK);
  CHECK(qinfer_pack_conv2d(&shape, weights, NULL, 0, NULL, 0, &w) == QINFER_INVALID_ARGUMENT);
  shape.groups = 1;
  shape.stride_height = 0;
  CHECK(qinfer_conv2d_output_size(&shape, &oh, &ow) == QINFER_INVALID_ARGUMENT);
  free(workspace);
  qinfer_packed_conv2d_destroy(w);
}

static void test_embedding_bag(void) {
  enum { ROWS = 50, DIM = 16, BAGS = 3 };
  float table[ROWS * DIM], out[BAGS * DIM], from_bytes[BAGS * DIM];
  const int64_t indices[6] = {3, 7, 7, 49, 0, 12};
  const int64_t offsets[BAGS + 1] = {0, 2, 2, 6};
  const float weights[6] = {0.5f, 2.0f, 1.0f, -1.0f, 3.0f, 0.25f};
  int64_t bad[6] = {3, 7, 7, 50, 0, 12};
  unsigned bits;
  size_t i, d;
  for (i = 0; i < ROWS * DIM; ++i) table[i] = (float)random_in(-1000, 1000) / 500.0f;
  for (bits = 8; bits >= 2; bits /= 2) {
    qinfer_embedding_table* t = NULL;
    qinfer_embedding_table* copy = NULL;
    const float tolerance = bits == 8 ? 0.05f : bits == 4 ? 0.8f : 4.0f;
    int close = 1;
    CHECK(qinfer_embedding_table_create(table, ROWS, DIM, DIM, bits, bits == 4, &t) == QINFER_OK);
    CHECK(qinfer_embedding_bag(t, indices, 6, offsets, BAGS, 0, weights, out, DIM, NULL) ==
          QINFER_OK);
    for (d = 0; d < DIM; ++d) {
      const float first = 0.5f * table[3 * DIM + d] + 2.0f * table[7 * DIM + d];
      const float third =
          table[7 * DIM + d] - table[49 * DIM + d] + 3.0f * table[d] + 0.25f * table[12 * DIM + d];
      close &= fabsf(out[d] - first) < tolerance && out[DIM + d] == 0.0f &&
               fabsf(out[2 * DIM + d] - third) < tolerance;
    }
    CHECK(close);
    CHECK(qinfer_embedding_table_from_bytes(qinfer_embedding_table_data(t),
                                            qinfer_embedding_table_bytes(t), ROWS, DIM, bits,
                                            bits == 4, &copy) == QINFER_OK);
    CHECK(qinfer_embedding_bag(copy, indices, 6, offsets, BAGS, 0, weights, from_bytes, DIM,
                               NULL) == QINFER_OK);
    CHECK(memcmp(out, from_bytes, sizeof out) == 0);
    CHECK(qinfer_embedding_bag(t, indices, 6, offsets, BAGS, 1, NULL, out, DIM, NULL) == QINFER_OK);
    CHECK(qinfer_embedding_bag(t, bad, 6, offsets, BAGS, 0, NULL, out, DIM, NULL) ==
          QINFER_INDEX_OUT_OF_RANGE);
    CHECK(qinfer_embedding_table_from_bytes(qinfer_embedding_table_data(t),
                                            qinfer_embedding_table_bytes(t) - 1, ROWS, DIM, bits,
                                            bits == 4, &copy) == QINFER_SHAPE_MISMATCH);
    qinfer_embedding_table_destroy(copy);
    qinfer_embedding_table_destroy(t);
  }
  CHECK(qinfer_embedding_table_create(table, ROWS, DIM, DIM, 3, 0, NULL) == QINFER_NULL_POINTER);
  {
    qinfer_embedding_table* t = NULL;
    CHECK(qinfer_embedding_table_create(table, ROWS, DIM, DIM, 3, 0, &t) ==
          QINFER_INVALID_ARGUMENT);
    CHECK(t == NULL);
    CHECK(qinfer_embedding_bag(NULL, indices, 6, offsets, BAGS, 0, NULL, out, DIM, NULL) ==
          QINFER_NULL_POINTER);
  }
}

int main(void) {
  test_version_and_isa();
  test_quantization();
  test_gemm();
  test_conv2d();
  test_embedding_bag();
  printf("%d of %d checks passed\n", checks - failures, checks);
  return failures == 0 ? 0 : 1;
}
