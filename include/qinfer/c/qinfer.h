/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * qinfer's C ABI, for engines and languages that link a library rather than include C++
 * headers. C99; no C++ type crosses it. Built into libqinfer_c (shared or static), the only
 * compiled part of qinfer; each function wraps the C++ API of the same name and gives its
 * results bit for bit.
 *
 * Conventions:
 *  - Every fallible function returns a qinfer_status; on failure nothing is written to its
 *    outputs, and qinfer_last_error() names the bad argument (per thread).
 *  - Objects (packed weights, embedding tables) are opaque, made by a qinfer_*_create or
 *    qinfer_pack_* function and released by the matching qinfer_*_destroy (NULL is fine).
 *    They are immutable once made, so any number of threads may use one at a time.
 *  - Work runs on the calling thread unless a qinfer_executor is given: the engine's own pool.
 *  - Sizes are element counts; strides are in elements; a "bytes" name says bytes.
 */
#ifndef QINFER_C_QINFER_H
#define QINFER_C_QINFER_H

#include <stddef.h>
#include <stdint.h>

#include "qinfer/version.h"

#if defined(__GNUC__)
#define QINFER_C_API __attribute__((visibility("default")))
#else
#define QINFER_C_API
#endif

/* C++ sees the enumerations with int as their fixed type, so that any value a C caller passes
 * is a valid value there (the library checks it); in C they are int-sized as they are. */
#ifdef __cplusplus
#define QINFER_ENUM_BASE : int
#else
#define QINFER_ENUM_BASE
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Outcome of a call; the values of the C++ qinfer::Errc, plus two the C ABI adds. */
typedef enum qinfer_status QINFER_ENUM_BASE {
  QINFER_OK = 0,
  QINFER_INVALID_ARGUMENT = 1,   /**< a parameter outside its documented domain */
  QINFER_INVALID_SCALE = 2,      /**< scale <= 0, NaN, Inf or subnormal */
  QINFER_INVALID_RANGE = 3,      /**< a real range with NaN/Inf bounds or min > max */
  QINFER_INVALID_ZERO_POINT = 4, /**< zero point outside the storage type */
  QINFER_SHAPE_MISMATCH = 5,     /**< extents or buffer sizes that do not agree */
  QINFER_SIZE_OVERFLOW = 6,      /**< a product of extents that does not fit in size_t */
  QINFER_NULL_POINTER = 7,       /**< null data with a non-zero size */
  QINFER_INDEX_OUT_OF_RANGE = 8, /**< an embedding index or bag offset out of range */
  QINFER_OUT_OF_MEMORY = 9,      /**< an allocation failed */
  QINFER_INTERNAL_ERROR = 10     /**< a bug: please report it */
} qinfer_status;

/** A short name of a status ("shape mismatch"). */
QINFER_C_API const char* qinfer_status_name(qinfer_status status);
/** The message of this thread's last failed call ("gemm: A's columns must equal K"), or "". */
QINFER_C_API const char* qinfer_last_error(void);

/** The library's version as QINFER_VERSION encodes it, and as "major.minor.patch". A caller can
 * compare it with the QINFER_VERSION of the header it was compiled against. */
QINFER_C_API uint32_t qinfer_version(void);
QINFER_C_API const char* qinfer_version_string(void);

/* ---------------------------------------------------------------------------------------- */
/* Instruction-set levels                                                                    */

/** The kernels' instruction-set levels, in the order of the C++ qinfer::Isa. */
typedef enum qinfer_isa QINFER_ENUM_BASE {
  QINFER_ISA_SCALAR = 0,
  QINFER_ISA_AVX2 = 1,
  QINFER_ISA_AVXVNNI = 2,
  QINFER_ISA_AVX512VNNI = 3,
  QINFER_ISA_AMX = 4,
  QINFER_ISA_NEON = 5,
  QINFER_ISA_DOTPROD = 6,
  QINFER_ISA_I8MM = 7
} qinfer_isa;

/** 1 if this CPU (and OS) supports the level, else 0. */
QINFER_C_API int qinfer_isa_supported(qinfer_isa isa);
/** The best level the CPU supports. */
QINFER_C_API qinfer_isa qinfer_best_isa(void);
/** The level kernels run now: the best one within the cap. */
QINFER_C_API qinfer_isa qinfer_active_isa(void);
/** The level's name as QINFER_ISA spells it ("avx512vnni"), or NULL for a value that is none. */
QINFER_C_API const char* qinfer_isa_name(qinfer_isa isa);
/** The level of a QINFER_ISA name. */
QINFER_C_API qinfer_status qinfer_isa_from_name(const char* name, qinfer_isa* isa);
/** Caps the level kernels may use, for calls that start afterwards (QINFER_ISA sets the initial
 * cap). A level the CPU lacks caps at the best one below it. */
QINFER_C_API qinfer_status qinfer_set_isa_cap(qinfer_isa cap);
/** Removes the cap. */
QINFER_C_API void qinfer_clear_isa_cap(void);
/** 1 and the cap in *cap when one is set, else 0. */
QINFER_C_API int qinfer_get_isa_cap(qinfer_isa* cap);

/* ---------------------------------------------------------------------------------------- */
/* Threads                                                                                   */

/** One task of a parallel loop. */
typedef void (*qinfer_task)(void* task_context, size_t index);

/** An engine's thread pool. run() must call task(task_context, i) exactly once for each i in
 * [0, tasks), on any threads and in any order, and return when all calls have returned. Results
 * never depend on how the tasks are spread. A NULL executor, or one whose run is NULL, runs the
 * tasks on the calling thread. */
typedef struct qinfer_executor {
  void (*run)(void* pool, size_t tasks, qinfer_task task, void* task_context);
  void* pool;
} qinfer_executor;

/* ---------------------------------------------------------------------------------------- */
/* Quantization                                                                              */

/** Storage of quantized values. */
typedef enum qinfer_type QINFER_ENUM_BASE {
  QINFER_TYPE_INT8 = 0,
  QINFER_TYPE_UINT8 = 1
} qinfer_type;

/** real = scale * (q - zero_point). */
typedef struct qinfer_quant_params {
  float scale;
  int32_t zero_point;
} qinfer_quant_params;

/** How parameters are chosen from a range. */
typedef enum qinfer_scheme QINFER_ENUM_BASE {
  QINFER_SCHEME_AFFINE = 0,          /**< any zero point; 0.0 exactly representable */
  QINFER_SCHEME_SYMMETRIC = 1,       /**< zero point 0 (int8) or 128 (uint8), full range */
  QINFER_SCHEME_SYMMETRIC_NARROW = 2 /**< as SYMMETRIC, codes in [-127, 127] (TFLite's weights) */
} qinfer_scheme;

/** Parameters for the real range [min, max] (widened to include 0). */
QINFER_C_API qinfer_status qinfer_choose_params(qinfer_type type, qinfer_scheme scheme, float min,
                                                float max, qinfer_quant_params* params);
/** q[i] = saturate(round_half_to_even(x[i] / scale) + zero_point), as ONNX QuantizeLinear;
 * q holds count values of `type`. */
QINFER_C_API qinfer_status qinfer_quantize(const float* x, size_t count, qinfer_type type,
                                           qinfer_quant_params params, void* q);
/** x[i] = scale * (q[i] - zero_point). */
QINFER_C_API qinfer_status qinfer_dequantize(const void* q, size_t count, qinfer_type type,
                                             qinfer_quant_params params, float* x);

/** real multiplier = multiplier * 2^(shift - 31), as TFLite's QuantizeMultiplier makes it. */
typedef struct qinfer_fixed_multiplier {
  int32_t multiplier;
  int32_t shift;
} qinfer_fixed_multiplier;

/** The fixed-point form of a real multiplier in (0, 2^30). */
QINFER_C_API qinfer_status qinfer_quantize_multiplier(double real,
                                                      qinfer_fixed_multiplier* multiplier);

/* ---------------------------------------------------------------------------------------- */
/* Output stages: what becomes of each int32 sum acc (bias and zero points included)         */

typedef enum qinfer_output_kind QINFER_ENUM_BASE {
  QINFER_OUTPUT_INT32 = 0,       /**< acc itself (int32_t outputs) */
  QINFER_OUTPUT_FLOAT = 1,       /**< scales[c] * acc (float outputs) */
  QINFER_OUTPUT_UINT8 = 2,       /**< clamp(round_half_to_even(scales[c] * acc) + zero_point) */
  QINFER_OUTPUT_INT8 = 3,        /**< the same to int8_t */
  QINFER_OUTPUT_UINT8_FIXED = 4, /**< clamp(multiply_by_quantized_multiplier(acc) + zero_point),
                                      gemmlowp's double rounding, with multipliers[c] */
  QINFER_OUTPUT_INT8_FIXED = 5   /**< the same to int8_t */
} qinfer_output_kind;

typedef struct qinfer_output_stage {
  qinfer_output_kind kind;
  /** FLOAT: a_scale * w_scale[c]; UINT8 / INT8: a_scale * w_scale[c] / out_scale. */
  const float* scales;
  /** *_FIXED: from qinfer_quantize_multiplier. */
  const qinfer_fixed_multiplier* multipliers;
  size_t count;       /**< entries of scales or multipliers: 1 or the output channels */
  int32_t zero_point; /**< of the 8-bit output */
  int32_t min, max;   /**< clamp bounds of the 8-bit output (a fused ReLU raises min) */
} qinfer_output_stage;

/* ---------------------------------------------------------------------------------------- */
/* GEMM: C = stage((A - a_zero_point) (B - b_zero_points) + bias)                            */

typedef struct qinfer_packed_gemm qinfer_packed_gemm;

/** Packs B (k x n, row b_row_stride) of `b_type` once, with its zero points and bias (each NULL
 * with count 0, 1 or n entries), into the active level's layout. */
QINFER_C_API qinfer_status qinfer_pack_gemm(qinfer_type b_type, const void* b, size_t k, size_t n,
                                            size_t b_row_stride, const int32_t* zero_points,
                                            size_t zero_point_count, const int32_t* bias,
                                            size_t bias_count, qinfer_packed_gemm** packed);
/** Bytes of the buffer qinfer_pack_gemm_into() takes for K x N weights; 0 when that overflows. */
QINFER_C_API size_t qinfer_pack_gemm_buffer_size(size_t k, size_t n);
/** As qinfer_pack_gemm, into the caller's buffer (64-byte aligned, at least
 * qinfer_pack_gemm_buffer_size(k, n) bytes), allocating nothing: the object lives in the buffer,
 * which must outlive it; qinfer_packed_gemm_destroy ends it and gives the buffer back. */
QINFER_C_API qinfer_status qinfer_pack_gemm_into(void* buffer, size_t buffer_bytes,
                                                 qinfer_type b_type, const void* b, size_t k,
                                                 size_t n, size_t b_row_stride,
                                                 const int32_t* zero_points,
                                                 size_t zero_point_count, const int32_t* bias,
                                                 size_t bias_count, qinfer_packed_gemm** packed);
QINFER_C_API void qinfer_packed_gemm_destroy(qinfer_packed_gemm* packed);
/** K, N and the bytes the packed weights take. */
QINFER_C_API size_t qinfer_packed_gemm_k(const qinfer_packed_gemm* packed);
QINFER_C_API size_t qinfer_packed_gemm_n(const qinfer_packed_gemm* packed);
QINFER_C_API size_t qinfer_packed_gemm_bytes(const qinfer_packed_gemm* packed);

/** C (m x n, row c_row_stride, of the stage's output type) from A (m x k, row a_row_stride). */
QINFER_C_API qinfer_status qinfer_gemm(qinfer_type a_type, const void* a, size_t m,
                                       size_t a_row_stride, int32_t a_zero_point,
                                       const qinfer_packed_gemm* packed,
                                       const qinfer_output_stage* stage, void* c,
                                       size_t c_row_stride, const qinfer_executor* executor);

/* ---------------------------------------------------------------------------------------- */
/* 2-D convolution, NHWC activations, OHWI weights                                           */

typedef struct qinfer_conv2d_shape {
  size_t batch, in_channels, out_channels, groups; /**< depthwise: groups = in = out channels */
  size_t in_height, in_width;
  size_t kernel_height, kernel_width;
  size_t stride_height, stride_width;
  size_t dilation_height, dilation_width;
  size_t pad_top, pad_bottom, pad_left, pad_right;
} qinfer_conv2d_shape;

typedef struct qinfer_packed_conv2d qinfer_packed_conv2d;

/** Packs int8 weights [out][kernel_height][kernel_width][in / groups] of the shape's filter
 * (channels, groups, kernel), with zero points and bias of 0 (NULL), 1 or out entries. */
QINFER_C_API qinfer_status qinfer_pack_conv2d(const qinfer_conv2d_shape* shape,
                                              const int8_t* weights, const int32_t* zero_points,
                                              size_t zero_point_count, const int32_t* bias,
                                              size_t bias_count, qinfer_packed_conv2d** packed);
/** Bytes of the buffer qinfer_pack_conv2d_into() takes for the shape's filter; 0 for an
 * invalid filter or a size past size_t. */
QINFER_C_API size_t qinfer_pack_conv2d_buffer_size(const qinfer_conv2d_shape* shape);
/** As qinfer_pack_conv2d, into the caller's buffer (64-byte aligned, at least
 * qinfer_pack_conv2d_buffer_size bytes), allocating nothing; as qinfer_pack_gemm_into. */
QINFER_C_API qinfer_status
qinfer_pack_conv2d_into(void* buffer, size_t buffer_bytes, const qinfer_conv2d_shape* shape,
                        const int8_t* weights, const int32_t* zero_points, size_t zero_point_count,
                        const int32_t* bias, size_t bias_count, qinfer_packed_conv2d** packed);
QINFER_C_API void qinfer_packed_conv2d_destroy(qinfer_packed_conv2d* packed);

/** The output's height and width. */
QINFER_C_API qinfer_status qinfer_conv2d_output_size(const qinfer_conv2d_shape* shape,
                                                     size_t* out_height, size_t* out_width);
/** Bytes of the workspace qinfer_conv2d needs for `shape` (0 for a direct 1x1 convolution). */
QINFER_C_API qinfer_status qinfer_conv2d_workspace_bytes(const qinfer_conv2d_shape* shape,
                                                         size_t* bytes);
/** output [batch][out_height][out_width][out] from input [batch][in_height][in_width][in].
 * With a workspace (4-byte aligned, qinfer_conv2d_workspace_bytes long) nothing is allocated;
 * with NULL the call allocates its own. */
QINFER_C_API qinfer_status qinfer_conv2d(const qinfer_conv2d_shape* shape, qinfer_type input_type,
                                         const void* input, int32_t input_zero_point,
                                         const qinfer_packed_conv2d* packed,
                                         const qinfer_output_stage* stage, void* output,
                                         void* workspace, size_t workspace_bytes,
                                         const qinfer_executor* executor);

/* ---------------------------------------------------------------------------------------- */
/* Row-wise quantized embedding tables (fbgemm's fused layout) and EmbeddingBag              */

typedef struct qinfer_embedding_table qinfer_embedding_table;

/** Quantizes a float table (rows x dim, row row_stride) to `bits` (8, 4 or 2) per value, each
 * row with its own scale and bias in fp32 (fp32_scales = 1) or fp16. */
QINFER_C_API qinfer_status qinfer_embedding_table_create(const float* table, size_t rows,
                                                         size_t dim, size_t row_stride,
                                                         unsigned bits, int fp32_scales,
                                                         qinfer_embedding_table** out);
/** A table from fused row-wise bytes (copied, and every scale and bias checked finite). */
QINFER_C_API qinfer_status qinfer_embedding_table_from_bytes(const uint8_t* bytes, size_t size,
                                                             size_t rows, size_t dim, unsigned bits,
                                                             int fp32_scales,
                                                             qinfer_embedding_table** out);
QINFER_C_API void qinfer_embedding_table_destroy(qinfer_embedding_table* table);
/** The fused row-wise bytes and their count. */
QINFER_C_API const uint8_t* qinfer_embedding_table_data(const qinfer_embedding_table* table);
QINFER_C_API size_t qinfer_embedding_table_bytes(const qinfer_embedding_table* table);

/** out[b] (dim floats, rows out_row_stride apart) pools the rows indices[offsets[b] ..
 * offsets[b + 1]) for b < bags: their sum, weighted by per_sample_weights (one per index, or
 * NULL), or their mean (mean = 1, unweighted). offsets holds bags + 1 entries from 0 to
 * index_count; every index is checked against the table's rows. */
QINFER_C_API qinfer_status qinfer_embedding_bag(const qinfer_embedding_table* table,
                                                const int64_t* indices, size_t index_count,
                                                const int64_t* offsets, size_t bags, int mean,
                                                const float* per_sample_weights, float* out,
                                                size_t out_row_stride,
                                                const qinfer_executor* executor);

#ifdef __cplusplus
}
#endif

#endif /* QINFER_C_QINFER_H */
