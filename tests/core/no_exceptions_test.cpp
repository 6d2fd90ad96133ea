// SPDX-License-Identifier: Apache-2.0
//
// Built with -fno-exceptions -fno-rtti -DQINFER_NO_EXCEPTIONS: every check that throws in the
// default build must come back here as the same Status, and valid calls must still work.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "qinfer/qinfer.hpp"

using namespace qinfer;

namespace {

int passed = 0;
int failed = 0;

void expect(bool condition, const char* what) {
  if (condition) {
    ++passed;
  } else {
    ++failed;
    std::printf("FAILED: %s\n", what);
  }
}

void expect_code(Status s, Errc code, const char* what) {
  expect(s.code() == code, what);
}

}  // namespace

int main() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x{0.5f, -1.0f, 2.0f, 3.0f};
  std::vector<int8_t> q(4);

  const Status good = quantize<int8_t>(Span<const float>(x), Span<int8_t>(q), {0.5f, 0});
  expect(good.ok() && q[0] == 1 && q[3] == 6, "quantize succeeds with valid arguments");
  expect_code(quantize<int8_t>(Span<const float>(x), Span<int8_t>(q), {nan, 0}),
              Errc::invalid_scale, "NaN scale -> invalid_scale");
  expect_code(quantize<int8_t>(Span<const float>(x), Span<int8_t>(q), {1.0f, 300}),
              Errc::invalid_zero_point, "zero point outside int8 -> invalid_zero_point");
  expect_code(quantize<int8_t>(Span<const float>(nullptr, 4), Span<int8_t>(q), {1.0f, 0}),
              Errc::null_pointer, "null data with non-zero size -> null_pointer");
  expect_code(dequantize<int8_t>(Span<const int8_t>(q.data(), 3), Span<float>(x), {1.0f, 0}),
              Errc::shape_mismatch, "mismatched sizes -> shape_mismatch");

  const Expected<QuantParams> range = choose_params<uint8_t>(2.0f, 1.0f);
  expect(!range.ok() && range.status().code() == Errc::invalid_range, "min > max -> invalid_range");
  const Expected<QuantParams> valid = choose_params<uint8_t>(-1.0f, 3.0f);
  expect(valid.ok() && valid->zero_point == 64, "choose_params returns a value");

  const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2 + 1;
  const std::size_t dims[] = {huge, 4};
  const Expected<std::size_t> count = element_count(dims);
  expect(!count.ok() && count.status().code() == Errc::size_overflow,
         "overflowing shape -> size_overflow");

  const Expected<QuantizedMultiplier> m = quantize_multiplier(-1.0);
  expect(!m.ok() && m.status().code() == Errc::invalid_scale,
         "negative multiplier -> invalid_scale");

  const Expected<AffineQuantizer<uint8_t>> quantizer =
      AffineQuantizer<uint8_t>::from_range(-1.0f, 1.0f);
  expect(quantizer.ok() && quantizer->quantize(0.0f) == quantizer->params().zero_point,
         "quantizer factory");
  const Expected<PerAxisQuantizer<int8_t>> per_axis = PerAxisQuantizer<int8_t>::create(0, {});
  expect(!per_axis.ok() && per_axis.status().code() == Errc::invalid_argument,
         "empty per-axis params");

  const uint8_t a[6] = {};
  const int8_t b[6] = {};
  int32_t c[4] = {};
  const int32_t zp[] = {0};
  expect(reference::gemm(row_major(a, 2, 3), row_major(b, 3, 2), reference::GemmOffsets{0, zp, {}},
                         StoreInt32{}, row_major(c, 2, 2))
             .ok(),
         "gemm succeeds");
  expect_code(reference::gemm(row_major(a, 2, 3), row_major(b, 2, 3),
                              reference::GemmOffsets{0, zp, {}}, StoreInt32{}, row_major(c, 2, 2)),
              Errc::shape_mismatch, "gemm with mismatched K -> shape_mismatch");

  reference::Conv2dShape shape;
  shape.in_c = shape.out_c = 1;
  shape.groups = 2;
  shape.h = {2, 1};
  shape.w = {2, 1};
  expect_code(
      reference::conv2d(shape, Span<const uint8_t>(a, 4), Span<const int8_t>(b, 1),
                        reference::GemmOffsets{0, zp, {}}, StoreInt32{}, Span<int32_t>(c, 4)),
      Errc::invalid_argument, "conv2d with indivisible groups -> invalid_argument");

  // The convolution operators: packing and running report through Status too.
  const int8_t filters[2 * 3 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -3, -4, -5, -6, -7, -8, -9};
  const Expected<PackedConv2d> dw =
      pack_conv2d(Conv2dFilter{2, 2, 2, 3, 3}, Span<const int8_t>(filters), zp, {});
  expect(dw.ok() && dw->depthwise.has_quads(), "pack_conv2d of a depthwise filter");
  const Expected<PackedConv2d> wrong =
      pack_conv2d(Conv2dFilter{2, 2, 2, 3, 3}, Span<const int8_t>(filters, 17), zp, {});
  expect(!wrong.ok() && wrong.status().code() == Errc::shape_mismatch,
         "pack_conv2d with too few weights -> shape_mismatch");
  const uint8_t image[2 * 2 * 2] = {10, 20, 30, 40, 50, 60, 70, 80};
  int32_t sums[2 * 2 * 2] = {};
  int32_t workspace[256] = {};
  const reference::Conv2dShape dw_shape{1, 2, 2, 2, {2, 3, 1, 1, 1, 1}, {2, 3, 1, 1, 1, 1}};
  expect(conv2d_workspace_size(dw_shape) <= 256, "depthwise workspace fits");
  expect(conv2d(dw_shape, Span<const uint8_t>(image), 0, *dw, StoreInt32{}, Span<int32_t>(sums),
                Span<int32_t>(workspace))
                 .ok() &&
             sums[0] == 5 * 10 + 6 * 30 + 8 * 50 + 9 * 70,
         "depthwise conv2d with a static workspace");
  expect_code(conv2d(dw_shape, Span<const uint8_t>(image), 0, *dw, StoreInt32{},
                     Span<int32_t>(sums), Span<int32_t>(workspace, 1)),
              Errc::invalid_argument, "conv2d with a short workspace -> invalid_argument");

  // The packed GEMM from a static buffer: packing and the product allocate nothing.
  alignas(64) static std::byte packed_buffer[1024];
  const int8_t weights[3 * 2] = {1, -2, 3, -4, 5, -6};
  const uint8_t rows[2 * 3] = {1, 2, 3, 4, 5, 6};
  int32_t products[2 * 2] = {};
  expect(packed_weights_size(3, 2) <= sizeof packed_buffer, "packed weights fit the buffer");
  const Expected<PackedWeights> packed =
      pack_weights_into(Span<std::byte>(packed_buffer), row_major(weights, 3, 2), zp, {});
  expect(packed.ok() && packed->storage == nullptr, "pack_weights_into a static buffer");
  expect(gemm(row_major(rows, 2, 3), 0, *packed, StoreInt32{}, row_major(products, 2, 2)).ok() &&
             products[0] == 1 * 1 + 2 * 3 + 3 * 5 && products[3] == 4 * -2 + 5 * -4 + 6 * -6,
         "gemm over weights in a static buffer");
  expect_code(pack_weights_into(Span<std::byte>(packed_buffer, 8), row_major(weights, 3, 2), zp, {})
                  .status(),
              Errc::invalid_argument, "pack_weights_into a short buffer -> invalid_argument");

  // Pooling, add and concat: static buffers, errors as statuses.
  const uint8_t pixels[2 * 2 * 2] = {1, 200, 3, 40, 5, 60, 7, 80};
  uint8_t pooled[2] = {};
  expect(global_avg_pool2d<uint8_t>(1, 2, 2, 2, Span<const uint8_t>(pixels), Span<uint8_t>(pooled))
                 .ok() &&
             pooled[0] == 4 && pooled[1] == 95,
         "global average pool");
  Pool2dShape pool_shape;
  pool_shape.channels = 2;
  pool_shape.h = {2, 2, 1};
  pool_shape.w = {2, 2, 1};
  expect(max_pool2d<uint8_t>(pool_shape, Span<const uint8_t>(pixels), Span<uint8_t>(pooled)).ok() &&
             pooled[0] == 7 && pooled[1] == 200,
         "max pool");
  expect_code(
      max_pool2d<uint8_t>(pool_shape, Span<const uint8_t>(pixels), Span<uint8_t>(pooled, 1)),
      Errc::shape_mismatch, "max pool into a short output -> shape_mismatch");
  const Expected<AddParams> add_params =
      reference::make_add_params<uint8_t>({0.5f, 0}, {0.5f, 0}, {1.0f, 0});
  uint8_t total[2] = {};
  expect(add_params.ok() &&
             add<uint8_t>(*add_params, Span<const uint8_t>(pixels, 2),
                          Span<const uint8_t>(pixels + 2, 2), Span<uint8_t>(total))
                 .ok() &&
             total[0] == 2 && total[1] == 120,
         "requantizing add");
  const ConcatInput<uint8_t> parts[] = {{Span<const uint8_t>(pixels, 2), 1},
                                        {Span<const uint8_t>(pixels + 2, 4), 2}};
  uint8_t joined[6] = {};
  expect(concat_channels<uint8_t>(2, Span<const ConcatInput<uint8_t>>(parts), Span<uint8_t>(joined))
                 .ok() &&
             joined[0] == 1 && joined[1] == 3 && joined[3] == 200,
         "concat along channels");

  const Expected<onnx::DynamicQuantized> dq =
      onnx::dynamic_quantize_linear(Tensor<float>({2}, {1.0f, nan}));
  expect(!dq.ok() && dq.status().code() == Errc::invalid_range,
         "DynamicQuantizeLinear with NaN -> invalid_range");

  const float table_values[4] = {0.0f, 1.0f, 2.0f, 3.0f};
  const Expected<RowwiseTable<Rowwise4>> table =
      quantize_rowwise<Rowwise4>(row_major<const float>(table_values, 2, 2));
  const int32_t bag_indices[2] = {1, 2}, bag_offsets[2] = {0, 2};
  float bag[2] = {-1.0f, -1.0f};
  expect(table.ok() && embedding_bag(*table, Span<const int32_t>(bag_indices, 0),
                                     Span<const int32_t>(bag_offsets, 1), row_major(bag, 0, 2))
                           .ok(),
         "embedding_bag with no bags");
  expect_code(embedding_bag(*table, Span<const int32_t>(bag_indices),
                            Span<const int32_t>(bag_offsets), row_major(bag, 1, 2)),
              Errc::index_out_of_range, "embedding_bag with an index past the table");
  expect(bag[0] == -1.0f, "embedding_bag wrote nothing after a bad index");
  const uint8_t nan_scale[] = {0x00, 0x00, 0x7e, 0x00, 0x00};
  const Expected<RowwiseTableView<Rowwise4>> view =
      view_rowwise<Rowwise4>(Span<const uint8_t>(nan_scale), 1, 2);
  expect(!view.ok() && view.status().code() == Errc::invalid_scale,
         "row-wise bytes with a NaN scale -> invalid_scale");

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
