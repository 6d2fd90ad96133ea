// SPDX-License-Identifier: Apache-2.0
//
// The public surface of qinfer. Headers depend only downward: core <- quant <- reference.
#pragma once

#include "qinfer/version.hpp"

#include "qinfer/core/error.hpp"
#include "qinfer/core/half.hpp"
#include "qinfer/core/layout.hpp"
#include "qinfer/core/matrix.hpp"
#include "qinfer/core/shape.hpp"
#include "qinfer/core/simd.hpp"
#include "qinfer/core/span.hpp"
#include "qinfer/core/tensor.hpp"

#include "qinfer/calib/smooth.hpp"

#include "qinfer/quant/blocks.hpp"
#include "qinfer/quant/output_stage.hpp"
#include "qinfer/quant/params.hpp"
#include "qinfer/quant/quantize.hpp"
#include "qinfer/quant/quantizer.hpp"
#include "qinfer/quant/requantize.hpp"
#include "qinfer/quant/rounding.hpp"
#include "qinfer/quant/rowwise.hpp"

#include "qinfer/reference/block_gemm.hpp"
#include "qinfer/reference/conv.hpp"
#include "qinfer/reference/elementwise.hpp"
#include "qinfer/reference/embedding_bag.hpp"
#include "qinfer/reference/gemm.hpp"
#include "qinfer/reference/onnx.hpp"
#include "qinfer/reference/pool.hpp"
#include "qinfer/reference/window.hpp"

#include "qinfer/kernels/depthwise/dispatch.hpp"
#include "qinfer/kernels/gemm/dispatch.hpp"
#include "qinfer/kernels/sgemm/dispatch.hpp"
#include "qinfer/ops/block_gemm.hpp"
#include "qinfer/ops/conv2d.hpp"
#include "qinfer/ops/depthwise.hpp"
#include "qinfer/ops/elementwise.hpp"
#include "qinfer/ops/embedding_bag.hpp"
#include "qinfer/ops/gemm.hpp"
#include "qinfer/ops/pool.hpp"
#include "qinfer/ops/sgemm.hpp"
#include "qinfer/runtime/parallel.hpp"
