// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "qinfer/core/layout.hpp"

using namespace qinfer;

TEST_CASE("NCHW to NHWC moves channels last and back", "[layout]") {
  const std::size_t n = 2, c = 3, hw = 5;
  std::vector<int> nchw(n * c * hw);
  std::iota(nchw.begin(), nchw.end(), 0);
  std::vector<int> nhwc(nchw.size()), back(nchw.size());
  channels_first_to_last(Span<const int>(nchw), n, c, hw, Span<int>(nhwc));
  for (std::size_t b = 0; b < n; ++b) {
    for (std::size_t ch = 0; ch < c; ++ch) {
      for (std::size_t p = 0; p < hw; ++p) {
        REQUIRE(nhwc[(b * hw + p) * c + ch] == nchw[(b * c + ch) * hw + p]);
      }
    }
  }
  channels_last_to_first(Span<const int>(nhwc), n, c, hw, Span<int>(back));
  CHECK(back == nchw);
}

TEST_CASE("layout conversion rejects mismatched buffers", "[layout][error]") {
  std::vector<int> src(6), dst(5);
  CHECK_THROWS_AS(channels_first_to_last(Span<const int>(src), 1, 2, 3, Span<int>(dst)), Error);
}
