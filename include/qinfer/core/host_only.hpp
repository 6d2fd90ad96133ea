// SPDX-License-Identifier: Apache-2.0
//
// Included by the headers that build, train, load or convert whole models on a host (nn/,
// calib/ but smooth.hpp, train/, io/model_file.hpp, io/pytorch_weights.hpp,
// io/model_header.hpp). They report errors by throwing and allocate freely, so in a build
// without exceptions the first error names the reason, not one of the many that follow. Firmware
// runs models with embedded/static_model.hpp on the core, quant, reference, kernels and ops
// headers.
#pragma once

#if defined(QINFER_NO_EXCEPTIONS)
#error "qinfer: this header is host-only and needs exceptions; see qinfer/core/host_only.hpp"
#endif
