// SPDX-License-Identifier: Apache-2.0
//
// The C ABI (include/qinfer/c/qinfer.h) over the C++ headers. Each function checks what C can
// get wrong that C++ types rule out (null objects, unknown enumerators), then calls the C++
// function, which checks the rest; exceptions never cross the ABI: guard() turns them into a
// status and this thread's last error message.
#include "qinfer/c/qinfer.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "qinfer/core/cpu.hpp"
#include "qinfer/core/error.hpp"
#include "qinfer/ops/conv2d.hpp"
#include "qinfer/ops/embedding_bag.hpp"
#include "qinfer/ops/gemm.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/quantize.hpp"
#include "qinfer/quant/requantize.hpp"
#include "qinfer/quant/rowwise.hpp"
#include "qinfer/runtime/parallel.hpp"
#include "qinfer/version.hpp"

using namespace qinfer;

// Made by new, or placed at the start of a caller's buffer (in_buffer) with the packed arrays
// after it.
struct qinfer_packed_gemm {
  PackedWeights weights;
  bool in_buffer = false;
};

struct qinfer_packed_conv2d {
  PackedConv2d weights;
  bool in_buffer = false;
};

// The bytes, validated once, and the format they are in.
struct qinfer_embedding_table {
  std::vector<uint8_t> bytes;
  std::size_t rows = 0, dim = 0;
  unsigned bits = 8;
  bool fp32_scales = false;
};

namespace {

static_assert(QINFER_INDEX_OUT_OF_RANGE == static_cast<int>(Errc::index_out_of_range),
              "qinfer_status extends Errc value for value");
static_assert(QINFER_ISA_I8MM == static_cast<int>(Isa::i8mm),
              "qinfer_isa follows Isa value for value");
static_assert(sizeof(qinfer_fixed_multiplier) == sizeof(QuantizedMultiplier));

thread_local const char* last_error = "";

[[noreturn]] void raise(Errc code, const char* message) {
  throw Error(Status(code, message));
}

void require(const void* pointer, const char* message) {
  if (pointer == nullptr) raise(Errc::null_pointer, message);
}

template <class Body>
qinfer_status guard(Body&& body) noexcept {
  try {
    body();
    return QINFER_OK;
  } catch (const Error& e) {
    last_error = e.status().message();
    return static_cast<qinfer_status>(e.status().code());
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return QINFER_OUT_OF_MEMORY;
  } catch (...) {
    last_error = "internal error";
    return QINFER_INTERNAL_ERROR;
  }
}

ParallelForHook hook(const qinfer_executor* executor) noexcept {
  return executor == nullptr ? ParallelForHook{} : ParallelForHook{executor->run, executor->pool};
}

std::optional<Isa> isa_of(qinfer_isa isa) noexcept {
  for (Isa known : all_isas) {
    if (static_cast<int>(known) == static_cast<int>(isa)) return known;
  }
  return std::nullopt;
}

// Calls body with a value of the storage type `type` names.
template <class Body>
void with_type(qinfer_type type, Body&& body) {
  if (type == QINFER_TYPE_INT8) return body(int8_t{});
  if (type == QINFER_TYPE_UINT8) return body(uint8_t{});
  raise(Errc::invalid_argument, "qinfer_type: not QINFER_TYPE_INT8 or QINFER_TYPE_UINT8");
}

// Calls body(stage, output) with the C++ output stage `stage` describes and `out` as its output
// type.
template <class Body>
void with_stage(const qinfer_output_stage* stage, void* out, Body&& body) {
  require(stage, "qinfer_output_stage: NULL");
  const Span<const float> scales(stage->scales, stage->count);
  const auto fixed = [&] {
    require(stage->multipliers, "qinfer_output_stage: multipliers is NULL");
    std::vector<QuantizedMultiplier> m(stage->count);
    for (std::size_t i = 0; i < m.size(); ++i) {
      m[i] = {stage->multipliers[i].multiplier, stage->multipliers[i].shift};
    }
    return m;
  };
  switch (stage->kind) {
    case QINFER_OUTPUT_INT32:
      return body(StoreInt32{}, static_cast<int32_t*>(out));
    case QINFER_OUTPUT_FLOAT:
      require(stage->scales, "qinfer_output_stage: scales is NULL");
      return body(DequantizeFloat{scales}, static_cast<float*>(out));
    case QINFER_OUTPUT_UINT8:
      require(stage->scales, "qinfer_output_stage: scales is NULL");
      return body(RequantizeFloat<uint8_t>{scales, stage->zero_point, stage->min, stage->max},
                  static_cast<uint8_t*>(out));
    case QINFER_OUTPUT_INT8:
      require(stage->scales, "qinfer_output_stage: scales is NULL");
      return body(RequantizeFloat<int8_t>{scales, stage->zero_point, stage->min, stage->max},
                  static_cast<int8_t*>(out));
    case QINFER_OUTPUT_UINT8_FIXED: {
      const std::vector<QuantizedMultiplier> m = fixed();
      return body(RequantizeFixedPoint<uint8_t>{Span<const QuantizedMultiplier>(m),
                                                stage->zero_point, stage->min, stage->max},
                  static_cast<uint8_t*>(out));
    }
    case QINFER_OUTPUT_INT8_FIXED: {
      const std::vector<QuantizedMultiplier> m = fixed();
      return body(RequantizeFixedPoint<int8_t>{Span<const QuantizedMultiplier>(m),
                                               stage->zero_point, stage->min, stage->max},
                  static_cast<int8_t*>(out));
    }
  }
  raise(Errc::invalid_argument, "qinfer_output_stage: unknown kind");
}

// Bytes before the packed arrays in a caller's buffer: the object, on whole cache lines.
template <class Object>
constexpr std::size_t object_slot = (sizeof(Object) + cache_line - 1) / cache_line* cache_line;

// The caller's buffer split into the object's slot and the arrays' part, after checking it.
template <class Object>
Span<std::byte> arrays_part(void* buffer, std::size_t buffer_bytes, std::size_t arrays_bytes,
                            const char* message) {
  require(buffer, message);
  if (reinterpret_cast<uintptr_t>(buffer) % cache_line != 0 || buffer_bytes < object_slot<Object> ||
      buffer_bytes - object_slot<Object> < arrays_bytes) {
    raise(Errc::invalid_argument, message);
  }
  return {static_cast<std::byte*>(buffer) + object_slot<Object>,
          buffer_bytes - object_slot<Object>};
}

// Ends an object from either source.
template <class Object>
void destroy(Object* object) noexcept {
  if (object == nullptr) return;
  if (object->in_buffer) {
    object->~Object();
  } else {
    delete object;
  }
}

// No zero points means zero, as the header promises; the C++ packers want one or n.
Span<const int32_t> weight_zero_points(const int32_t* zero_points, std::size_t count) noexcept {
  static constexpr int32_t zero = 0;
  return count == 0 ? Span<const int32_t>(&zero, 1) : Span<const int32_t>(zero_points, count);
}

Conv2dFilter filter_of(const qinfer_conv2d_shape& s) noexcept {
  return {s.out_channels, s.in_channels, s.groups, s.kernel_height, s.kernel_width};
}

// The filter's weights as a span of their count, [out][kh][kw][in / groups].
Span<const int8_t> filter_weights(const Conv2dFilter& f, const int8_t* weights) {
  std::size_t count = 0;
  if (f.groups == 0 || !checked_mul(f.out_c, f.kernel_h, count) ||
      !checked_mul(count, f.kernel_w, count) || !checked_mul(count, f.in_c / f.groups, count)) {
    raise(f.groups == 0 ? Errc::invalid_argument : Errc::size_overflow,
          "qinfer_pack_conv2d: groups must be > 0 and the filter's size fit size_t");
  }
  return {weights, count};
}

reference::Conv2dShape conv_shape(const qinfer_conv2d_shape* s) {
  require(s, "qinfer_conv2d_shape: NULL");
  return {s->batch,
          s->in_channels,
          s->out_channels,
          s->groups,
          {s->in_height, s->kernel_height, s->stride_height, s->dilation_height, s->pad_top,
           s->pad_bottom},
          {s->in_width, s->kernel_width, s->stride_width, s->dilation_width, s->pad_left,
           s->pad_right}};
}

// Calls body with a value of the RowwiseFormat the table's bits and scale format name.
template <class Body>
void with_format(unsigned bits, bool fp32_scales, Body&& body) {
  const auto scaled = [&](auto bits_tag) {
    constexpr unsigned b = decltype(bits_tag)::value;
    if (fp32_scales) return body(RowwiseFormat<b, ScaleFormat::fp32>{});
    return body(RowwiseFormat<b, ScaleFormat::fp16>{});
  };
  if (bits == 8) return scaled(std::integral_constant<unsigned, 8>{});
  if (bits == 4) return scaled(std::integral_constant<unsigned, 4>{});
  if (bits == 2) return scaled(std::integral_constant<unsigned, 2>{});
  raise(Errc::invalid_argument, "embedding table: bits must be 8, 4 or 2");
}

// A table object holding a copy of validated bytes.
qinfer_embedding_table* new_table(Span<const uint8_t> bytes, std::size_t rows, std::size_t dim,
                                  unsigned bits, bool fp32_scales) {
  auto table = std::make_unique<qinfer_embedding_table>();
  table->bytes.assign(bytes.begin(), bytes.end());
  table->rows = rows;
  table->dim = dim;
  table->bits = bits;
  table->fp32_scales = fp32_scales;
  return table.release();
}

}  // namespace

extern "C" {

const char* qinfer_status_name(qinfer_status status) {
  switch (status) {
    case QINFER_OUT_OF_MEMORY:
      return "out of memory";
    case QINFER_INTERNAL_ERROR:
      return "internal error";
    default:
      return status >= QINFER_OK && status <= QINFER_INDEX_OUT_OF_RANGE
                 ? errc_name(static_cast<Errc>(status))
                 : "unknown status";
  }
}

const char* qinfer_last_error(void) {
  return last_error;
}

uint32_t qinfer_version(void) {
  return QINFER_VERSION;
}

const char* qinfer_version_string(void) {
  static const std::string text = std::to_string(QINFER_VERSION_MAJOR) + "." +
                                  std::to_string(QINFER_VERSION_MINOR) + "." +
                                  std::to_string(QINFER_VERSION_PATCH);
  return text.c_str();
}

int qinfer_isa_supported(qinfer_isa isa) {
  const std::optional<Isa> known = isa_of(isa);
  return known && cpu_features().supports(*known) ? 1 : 0;
}

qinfer_isa qinfer_best_isa(void) {
  return static_cast<qinfer_isa>(cpu_features().best());
}

qinfer_isa qinfer_active_isa(void) {
  return static_cast<qinfer_isa>(active_isa());
}

const char* qinfer_isa_name(qinfer_isa isa) {
  const std::optional<Isa> known = isa_of(isa);
  return known ? isa_name(*known) : nullptr;
}

qinfer_status qinfer_isa_from_name(const char* name, qinfer_isa* isa) {
  return guard([&] {
    require(name, "qinfer_isa_from_name: name is NULL");
    require(isa, "qinfer_isa_from_name: isa is NULL");
    for (Isa known : all_isas) {
      if (std::strcmp(name, isa_name(known)) == 0) {
        *isa = static_cast<qinfer_isa>(known);
        return;
      }
    }
    raise(Errc::invalid_argument, "qinfer_isa_from_name: no level has this name");
  });
}

qinfer_status qinfer_set_isa_cap(qinfer_isa cap) {
  return guard([&] {
    const std::optional<Isa> known = isa_of(cap);
    if (!known) raise(Errc::invalid_argument, "qinfer_set_isa_cap: unknown level");
    set_isa_cap(*known);
  });
}

void qinfer_clear_isa_cap(void) {
  set_isa_cap(std::nullopt);
}

int qinfer_get_isa_cap(qinfer_isa* cap) {
  const std::optional<Isa> current = isa_cap();
  if (current && cap != nullptr) *cap = static_cast<qinfer_isa>(*current);
  return current ? 1 : 0;
}

qinfer_status qinfer_choose_params(qinfer_type type, qinfer_scheme scheme, float min, float max,
                                   qinfer_quant_params* params) {
  return guard([&] {
    require(params, "qinfer_choose_params: params is NULL");
    with_type(type, [&](auto tag) {
      using T = decltype(tag);
      QuantParams p;
      switch (scheme) {
        case QINFER_SCHEME_AFFINE:
          p = choose_params<T, Affine>(min, max);
          break;
        case QINFER_SCHEME_SYMMETRIC:
          p = choose_params<T, Symmetric<>>(min, max);
          break;
        case QINFER_SCHEME_SYMMETRIC_NARROW:
          p = choose_params<T, SymmetricNarrow>(min, max);
          break;
        default:
          raise(Errc::invalid_argument, "qinfer_choose_params: unknown scheme");
      }
      *params = {p.scale, p.zero_point};
    });
  });
}

qinfer_status qinfer_quantize(const float* x, size_t count, qinfer_type type,
                              qinfer_quant_params params, void* q) {
  return guard([&] {
    with_type(type, [&](auto tag) {
      using T = decltype(tag);
      quantize<T>(Span<const float>(x, count), Span<T>(static_cast<T*>(q), count),
                  {params.scale, params.zero_point});
    });
  });
}

qinfer_status qinfer_dequantize(const void* q, size_t count, qinfer_type type,
                                qinfer_quant_params params, float* x) {
  return guard([&] {
    with_type(type, [&](auto tag) {
      using T = decltype(tag);
      dequantize<T>(Span<const T>(static_cast<const T*>(q), count), Span<float>(x, count),
                    {params.scale, params.zero_point});
    });
  });
}

qinfer_status qinfer_quantize_multiplier(double real, qinfer_fixed_multiplier* multiplier) {
  return guard([&] {
    require(multiplier, "qinfer_quantize_multiplier: multiplier is NULL");
    const QuantizedMultiplier m = quantize_multiplier(real);
    *multiplier = {m.multiplier, m.shift};
  });
}

qinfer_status qinfer_pack_gemm(qinfer_type b_type, const void* b, size_t k, size_t n,
                               size_t b_row_stride, const int32_t* zero_points,
                               size_t zero_point_count, const int32_t* bias, size_t bias_count,
                               qinfer_packed_gemm** packed) {
  return guard([&] {
    require(packed, "qinfer_pack_gemm: packed is NULL");
    with_type(b_type, [&](auto tag) {
      using T = decltype(tag);
      const MatrixView<const T> view{static_cast<const T*>(b), k, n, b_row_stride, 1};
      auto result = std::make_unique<qinfer_packed_gemm>();
      result->weights = pack_weights(view, weight_zero_points(zero_points, zero_point_count),
                                     Span<const int32_t>(bias, bias_count));
      *packed = result.release();
    });
  });
}

size_t qinfer_pack_gemm_buffer_size(size_t k, size_t n) {
  const std::size_t arrays = packed_weights_size(k, n);
  return (arrays == 0 && k != 0 && n != 0) || arrays > SIZE_MAX - object_slot<qinfer_packed_gemm>
             ? 0
             : object_slot<qinfer_packed_gemm> + arrays;
}

qinfer_status qinfer_pack_gemm_into(void* buffer, size_t buffer_bytes, qinfer_type b_type,
                                    const void* b, size_t k, size_t n, size_t b_row_stride,
                                    const int32_t* zero_points, size_t zero_point_count,
                                    const int32_t* bias, size_t bias_count,
                                    qinfer_packed_gemm** packed) {
  return guard([&] {
    require(packed, "qinfer_pack_gemm_into: packed is NULL");
    const Span<std::byte> arrays = arrays_part<qinfer_packed_gemm>(
        buffer, buffer_bytes, packed_weights_size(k, n),
        "qinfer_pack_gemm_into: buffer NULL, not 64-byte aligned or smaller than "
        "qinfer_pack_gemm_buffer_size()");
    with_type(b_type, [&](auto tag) {
      using T = decltype(tag);
      const MatrixView<const T> view{static_cast<const T*>(b), k, n, b_row_stride, 1};
      PackedWeights w =
          pack_weights_into(arrays, view, weight_zero_points(zero_points, zero_point_count),
                            Span<const int32_t>(bias, bias_count));
      *packed = new (buffer) qinfer_packed_gemm{std::move(w), true};
    });
  });
}

void qinfer_packed_gemm_destroy(qinfer_packed_gemm* packed) {
  destroy(packed);
}

size_t qinfer_packed_gemm_k(const qinfer_packed_gemm* packed) {
  return packed == nullptr ? 0 : packed->weights.k;
}

size_t qinfer_packed_gemm_n(const qinfer_packed_gemm* packed) {
  return packed == nullptr ? 0 : packed->weights.n;
}

size_t qinfer_packed_gemm_bytes(const qinfer_packed_gemm* packed) {
  if (packed == nullptr) return 0;
  const PackedWeights& w = packed->weights;
  return w.storage != nullptr ? w.storage->size() : packed_weights_size(w.k, w.n);
}

qinfer_status qinfer_gemm(qinfer_type a_type, const void* a, size_t m, size_t a_row_stride,
                          int32_t a_zero_point, const qinfer_packed_gemm* packed,
                          const qinfer_output_stage* stage, void* c, size_t c_row_stride,
                          const qinfer_executor* executor) {
  return guard([&] {
    require(packed, "qinfer_gemm: packed is NULL");
    const PackedWeights& w = packed->weights;
    with_type(a_type, [&](auto tag) {
      using TA = decltype(tag);
      const MatrixView<const TA> av{static_cast<const TA*>(a), m, w.k, a_row_stride, 1};
      with_stage(stage, c, [&](const auto& s, auto* out) {
        using Out = std::remove_pointer_t<decltype(out)>;
        gemm(av, a_zero_point, w, s, MatrixView<Out>{out, m, w.n, c_row_stride, 1}, hook(executor));
      });
    });
  });
}

qinfer_status qinfer_pack_conv2d(const qinfer_conv2d_shape* shape, const int8_t* weights,
                                 const int32_t* zero_points, size_t zero_point_count,
                                 const int32_t* bias, size_t bias_count,
                                 qinfer_packed_conv2d** packed) {
  return guard([&] {
    require(packed, "qinfer_pack_conv2d: packed is NULL");
    require(shape, "qinfer_conv2d_shape: NULL");
    const Conv2dFilter filter = filter_of(*shape);
    auto result = std::make_unique<qinfer_packed_conv2d>();
    result->weights = pack_conv2d(filter, filter_weights(filter, weights),
                                  weight_zero_points(zero_points, zero_point_count),
                                  Span<const int32_t>(bias, bias_count));
    *packed = result.release();
  });
}

size_t qinfer_pack_conv2d_buffer_size(const qinfer_conv2d_shape* shape) {
  if (shape == nullptr) return 0;
  const std::size_t arrays = packed_conv2d_size(filter_of(*shape));
  return arrays == 0 || arrays > SIZE_MAX - object_slot<qinfer_packed_conv2d>
             ? 0
             : object_slot<qinfer_packed_conv2d> + arrays;
}

qinfer_status qinfer_pack_conv2d_into(void* buffer, size_t buffer_bytes,
                                      const qinfer_conv2d_shape* shape, const int8_t* weights,
                                      const int32_t* zero_points, size_t zero_point_count,
                                      const int32_t* bias, size_t bias_count,
                                      qinfer_packed_conv2d** packed) {
  return guard([&] {
    require(packed, "qinfer_pack_conv2d_into: packed is NULL");
    require(shape, "qinfer_conv2d_shape: NULL");
    const Conv2dFilter filter = filter_of(*shape);
    const Span<std::byte> arrays = arrays_part<qinfer_packed_conv2d>(
        buffer, buffer_bytes, packed_conv2d_size(filter),
        "qinfer_pack_conv2d_into: buffer NULL, not 64-byte aligned or smaller than "
        "qinfer_pack_conv2d_buffer_size()");
    PackedConv2d w = pack_conv2d_into(arrays, filter, filter_weights(filter, weights),
                                      weight_zero_points(zero_points, zero_point_count),
                                      Span<const int32_t>(bias, bias_count));
    *packed = new (buffer) qinfer_packed_conv2d{std::move(w), true};
  });
}

void qinfer_packed_conv2d_destroy(qinfer_packed_conv2d* packed) {
  destroy(packed);
}

qinfer_status qinfer_conv2d_output_size(const qinfer_conv2d_shape* shape, size_t* out_height,
                                        size_t* out_width) {
  return guard([&] {
    require(out_height, "qinfer_conv2d_output_size: out_height is NULL");
    require(out_width, "qinfer_conv2d_output_size: out_width is NULL");
    const reference::Conv2dShape s = conv_shape(shape);
    reference::Conv2dSizes sizes;
    if (auto status = reference::conv2d_sizes(s, sizes); !status) fail(status);
    *out_height = s.h.output();
    *out_width = s.w.output();
  });
}

qinfer_status qinfer_conv2d_workspace_bytes(const qinfer_conv2d_shape* shape, size_t* bytes) {
  return guard([&] {
    require(bytes, "qinfer_conv2d_workspace_bytes: bytes is NULL");
    const reference::Conv2dShape s = conv_shape(shape);
    reference::Conv2dSizes sizes;
    if (auto status = reference::conv2d_sizes(s, sizes); !status) fail(status);
    const std::size_t values = conv2d_workspace_size(s);
    if (values > SIZE_MAX / sizeof(int32_t)) {
      raise(Errc::size_overflow, "qinfer_conv2d_workspace_bytes: workspace overflows size_t");
    }
    *bytes = values * sizeof(int32_t);
  });
}

qinfer_status qinfer_conv2d(const qinfer_conv2d_shape* shape, qinfer_type input_type,
                            const void* input, int32_t input_zero_point,
                            const qinfer_packed_conv2d* packed, const qinfer_output_stage* stage,
                            void* output, void* workspace, size_t workspace_bytes,
                            const qinfer_executor* executor) {
  return guard([&] {
    require(packed, "qinfer_conv2d: packed is NULL");
    const reference::Conv2dShape s = conv_shape(shape);
    reference::Conv2dSizes sizes;
    if (auto status = reference::conv2d_sizes(s, sizes); !status) fail(status);
    if (workspace != nullptr && reinterpret_cast<uintptr_t>(workspace) % alignof(int32_t) != 0) {
      raise(Errc::invalid_argument, "qinfer_conv2d: workspace must be 4-byte aligned");
    }
    with_type(input_type, [&](auto tag) {
      using TA = decltype(tag);
      const Span<const TA> in(static_cast<const TA*>(input), sizes.input);
      with_stage(stage, output, [&](const auto& st, auto* out) {
        using Out = std::remove_pointer_t<decltype(out)>;
        const Span<Out> result(out, sizes.output);
        if (workspace == nullptr) {
          conv2d(s, in, input_zero_point, packed->weights, st, result, hook(executor));
        } else {
          conv2d(s, in, input_zero_point, packed->weights, st, result,
                 Span<int32_t>(static_cast<int32_t*>(workspace), workspace_bytes / sizeof(int32_t)),
                 hook(executor));
        }
      });
    });
  });
}

qinfer_status qinfer_embedding_table_create(const float* table, size_t rows, size_t dim,
                                            size_t row_stride, unsigned bits, int fp32_scales,
                                            qinfer_embedding_table** out) {
  return guard([&] {
    require(out, "qinfer_embedding_table_create: out is NULL");
    with_format(bits, fp32_scales != 0, [&](auto format) {
      using Format = decltype(format);
      const RowwiseTable<Format> quantized =
          quantize_rowwise<Format>(MatrixView<const float>{table, rows, dim, row_stride, 1});
      *out = new_table(quantized.bytes(), rows, dim, bits, fp32_scales != 0);
    });
  });
}

qinfer_status qinfer_embedding_table_from_bytes(const uint8_t* bytes, size_t size, size_t rows,
                                                size_t dim, unsigned bits, int fp32_scales,
                                                qinfer_embedding_table** out) {
  return guard([&] {
    require(out, "qinfer_embedding_table_from_bytes: out is NULL");
    with_format(bits, fp32_scales != 0, [&](auto format) {
      using Format = decltype(format);
      const Span<const uint8_t> checked(bytes, size);
      view_rowwise<Format>(checked, rows, dim);
      *out = new_table(checked, rows, dim, bits, fp32_scales != 0);
    });
  });
}

void qinfer_embedding_table_destroy(qinfer_embedding_table* table) {
  delete table;
}

const uint8_t* qinfer_embedding_table_data(const qinfer_embedding_table* table) {
  return table == nullptr ? nullptr : table->bytes.data();
}

size_t qinfer_embedding_table_bytes(const qinfer_embedding_table* table) {
  return table == nullptr ? 0 : table->bytes.size();
}

qinfer_status qinfer_embedding_bag(const qinfer_embedding_table* table, const int64_t* indices,
                                   size_t index_count, const int64_t* offsets, size_t bags,
                                   int mean, const float* per_sample_weights, float* out,
                                   size_t out_row_stride, const qinfer_executor* executor) {
  return guard([&] {
    require(table, "qinfer_embedding_bag: table is NULL");
    require(offsets, "qinfer_embedding_bag: offsets is NULL");
    if (bags == SIZE_MAX) raise(Errc::size_overflow, "qinfer_embedding_bag: too many bags");
    EmbeddingBagOptions options;
    options.pooling = mean != 0 ? Pooling::mean : Pooling::sum;
    if (per_sample_weights != nullptr) {
      options.per_sample_weights = Span<const float>(per_sample_weights, index_count);
    }
    with_format(table->bits, table->fp32_scales, [&](auto format) {
      using Format = decltype(format);
      const RowwiseTableView<Format> view{table->bytes.data(), table->rows, table->dim};
      embedding_bag(
          view, Span<const int64_t>(indices, index_count), Span<const int64_t>(offsets, bags + 1),
          MatrixView<float>{out, bags, table->dim, out_row_stride, 1}, options, hook(executor));
    });
  });
}

}  // extern "C"
