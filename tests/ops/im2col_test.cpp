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

// Window by window, tap by tap, straight from the definition; the image has image_channels
// channels per pixel, of which the windows take [first_channel, first_channel + g.channels).
template <class T>
std::vector<T> naive_im2col(const ImageWindows& g, const std::vector<T>& image, T pad,
                            std::size_t image_channels, std::size_t first_channel) {
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
                                  image_channels +
                              first_channel + c]
                      : pad);
            }
          }
        }
      }
    }
  }
  return out;
}

struct Geometry {
  ImageWindows windows;
  std::size_t image_channels, first_channel;
};

// Windows that fit, on an image with `extra` more channels than the windows take.
Geometry random_geometry(test::Rng& rng, int trial, std::size_t extra) {
  for (;;) {
    const std::size_t k = rng.size(1, 5), stride = rng.size(1, 3);
    const std::size_t dilation = trial % 4 == 0 ? 2 : 1;
    const ImageWindows g{rng.size(1, 2),
                         rng.size(1, 20),
                         {rng.size(1, 13), k, stride, dilation, rng.size(0, k), rng.size(0, k)},
                         {rng.size(1, 13), k, stride, dilation, rng.size(0, k), rng.size(0, k)}};
    if (g.height.check("") && g.width.check("")) {
      const std::size_t first_channel = extra == 0 ? 0 : rng.size(0, extra);
      return {g, g.channels + extra, first_channel};
    }
  }
}

template <class T>
std::vector<T> numbered_image(const Geometry& geometry) {
  const ImageWindows& g = geometry.windows;
  std::vector<T> image(g.batch * g.height.input * g.width.input * geometry.image_channels);
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<T>(i % 251 + 1);
  return image;
}

template <class T>
void check_im2col(test::Rng& rng) {
  for (int trial = 0; trial < 300; ++trial) {
    const Geometry geometry = random_geometry(rng, trial, 0);
    const ImageWindows& g = geometry.windows;
    const std::vector<T> image = numbered_image<T>(geometry);
    std::vector<T> ours(g.rows() * g.depth());
    im2col(g, image.data(), T{0}, ours.data());
    INFO("trial " << trial << ": kernel " << g.height.kernel << " stride " << g.height.stride
                  << " dilation " << g.height.dilation << " channels " << g.channels);
    REQUIRE(ours == naive_im2col(g, image, T{0}, g.channels, 0));
  }
}

TEST_CASE("im2col equals the window-by-window definition", "[ops][im2col]") {
  test::Rng rng(22);
  check_im2col<uint8_t>(rng);
  check_im2col<float>(rng);
}

// conv2d's chunks: any run of rows (starting and ending inside an output row, crossing rows and
// images) of a group's slice of the channels, and nothing written past the run.
TEST_CASE("im2col_rows gives any run of rows of any channel slice", "[ops][im2col]") {
  test::Rng rng(23);
  for (int trial = 0; trial < 400; ++trial) {
    const Geometry geometry = random_geometry(rng, trial, trial % 2 == 0 ? 0 : rng.size(1, 9));
    const ImageWindows& g = geometry.windows;
    const std::vector<uint8_t> image = numbered_image<uint8_t>(geometry);
    const std::vector<uint8_t> all =
        naive_im2col(g, image, uint8_t{0}, geometry.image_channels, geometry.first_channel);
    const std::size_t first = rng.size(0, g.rows() - 1);
    const std::size_t count = rng.size(1, g.rows() - first);
    std::vector<uint8_t> ours(count * g.depth() + 1, 0xEE);
    im2col_rows(g, geometry.image_channels, geometry.first_channel, image.data(), uint8_t{0}, first,
                count, ours.data());
    INFO("trial " << trial << ": rows " << first << " + " << count << " of " << g.rows()
                  << ", channels " << geometry.first_channel << " + " << g.channels << " of "
                  << geometry.image_channels);
    REQUIRE(ours.back() == 0xEE);
    ours.pop_back();
    const auto begin = all.begin() + static_cast<std::ptrdiff_t>(first * g.depth());
    REQUIRE(ours == std::vector<uint8_t>(begin, begin + static_cast<std::ptrdiff_t>(ours.size())));
  }
}

}  // namespace
}  // namespace qinfer
