// SPDX-License-Identifier: Apache-2.0
#include "qinfer/ops/im2col.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "support/random.hpp"

namespace qinfer {
namespace {

template <class T>
void check_copy_run() {
  std::vector<T> src(140);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<T>(i + 1);
  for (std::size_t n = 0; n <= 130; ++n) {
    // Guards on both sides: nothing outside [dst, dst + n) is written.
    std::vector<T> dst(n + 2, T{0});
    detail::copy_run(src.data() + 3, n, dst.data() + 1);
    INFO("n " << n);
    REQUIRE(dst.front() == T{0});
    REQUIRE(dst.back() == T{0});
    for (std::size_t i = 0; i < n; ++i) REQUIRE(dst[i + 1] == src[i + 3]);
  }
}

TEST_CASE("copy_run copies every length exactly and nothing more", "[ops][im2col]") {
  check_copy_run<uint8_t>();
  check_copy_run<float>();
}

// Window by window, tap by tap, straight from the definition.
template <class T>
std::vector<T> naive_im2col(const ImageWindows& g, const std::vector<T>& image, T pad) {
  std::vector<T> out;
  for (std::size_t n = 0; n < g.batch; ++n) {
    for (std::size_t oh = 0; oh < g.height.output(); ++oh) {
      for (std::size_t ow = 0; ow < g.width.output(); ++ow) {
        for (std::size_t kh = 0; kh < g.height.kernel; ++kh) {
          for (std::size_t kw = 0; kw < g.width.kernel; ++kw) {
            const std::ptrdiff_t ih = g.height.coordinate(oh, kh), iw = g.width.coordinate(ow, kw);
            const bool inside = ih >= 0 && iw >= 0 &&
                                static_cast<std::size_t>(ih) < g.height.input &&
                                static_cast<std::size_t>(iw) < g.width.input;
            for (std::size_t c = 0; c < g.channels; ++c) {
              out.push_back(
                  inside
                      ? image[((n * g.height.input + static_cast<std::size_t>(ih)) * g.width.input +
                               static_cast<std::size_t>(iw)) *
                                  g.channels +
                              c]
                      : pad);
            }
          }
        }
      }
    }
  }
  return out;
}

template <class T>
void check_im2col(test::Rng& rng) {
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t k = rng.size(1, 5), stride = rng.size(1, 3);
    const std::size_t dilation = trial % 4 == 0 ? 2 : 1;
    ImageWindows g{rng.size(1, 2),
                   rng.size(1, 20),
                   {rng.size(1, 13), k, stride, dilation, rng.size(0, k), rng.size(0, k)},
                   {rng.size(1, 13), k, stride, dilation, rng.size(0, k), rng.size(0, k)}};
    if (!g.height.check("") || !g.width.check("")) continue;
    std::vector<T> image(g.batch * g.height.input * g.width.input * g.channels);
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<T>(i % 251 + 1);
    std::vector<T> ours(g.rows() * g.depth());
    im2col(g, image.data(), T{0}, ours.data());
    INFO("trial " << trial << ": kernel " << k << " stride " << stride << " dilation " << dilation
                  << " channels " << g.channels);
    REQUIRE(ours == naive_im2col(g, image, T{0}));
  }
}

TEST_CASE("im2col equals the window-by-window definition", "[ops][im2col]") {
  test::Rng rng(22);
  check_im2col<uint8_t>(rng);
  check_im2col<float>(rng);
}

}  // namespace
}  // namespace qinfer
