// SPDX-License-Identifier: Apache-2.0
//
// The main demo (cmake/quickstart.sh demo): train the float CNN on Fashion-MNIST, quantize it
// after training with several calibration rules and weight widths, and compare accuracy, size,
// batch-1 latency and batch-64 throughput in one table.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fashion_mnist_cnn.hpp"
#include "qinfer/calib/equalize.hpp"
#include "qinfer/calib/ptq.hpp"
#include "qinfer/calib/qat.hpp"
#include "qinfer/io/idx.hpp"
#include "qinfer/io/model_file.hpp"
#include "qinfer/io/pytorch_weights.hpp"
#include "qinfer/nn/activation.hpp"
#include "qinfer/nn/conv2d.hpp"
#include "qinfer/nn/depthwise.hpp"
#include "qinfer/nn/linear.hpp"
#include "qinfer/nn/pool.hpp"
#include "qinfer/nn/sequential.hpp"
#include "qinfer/runtime/thread_pool.hpp"
#include "qinfer/train/loop.hpp"
#include "qinfer/train/optimizer.hpp"

namespace {

using namespace qinfer;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::size_t epochs = 3;
  std::size_t threads = 2;
  std::size_t calibration_images = 1000;
  float qat_learning_rate = 1e-4f;
  std::string report;
  std::string weights;     // PyTorch safetensors to load instead of training
  std::string cache;       // trained weights: loaded when they match --epochs, else written
  std::string save_model;  // where the int8 model file goes
  bool full = false;       // also the MobileNet-style model
};

const char* const usage =
    "usage: fashion_mnist [options]\n"
    "  Trains the float CNN conv(1->16,3x3)+ReLU+pool -> conv(16->32,3x3)+ReLU+pool -> "
    "fc(1568->128)\n"
    "  +ReLU -> fc(128->10) on Fashion-MNIST, quantizes it after training (PTQ) and compares.\n"
    "  --epochs N        training epochs with Adam, cosine learning rate from 1e-3 (default 3)\n"
    "  --threads N       threads for training and evaluation (default 2); latency and\n"
    "                    throughput are always measured on one thread\n"
    "  --calibration N   training images used for calibration (default 1000)\n"
    "  --qat-lr X        Adam learning rate of the QAT fine-tuning epoch (default 1e-4)\n"
    "  --data DIR        directory of the *-ubyte.gz files (default "
    "/usr/share/datasets/fashion-mnist)\n"
    "  --weights FILE    load the float CNN from PyTorch safetensors (names conv1, conv2, fc1,\n"
    "                    fc2; PyTorch layouts) instead of training it\n"
    "  --cache FILE      reuse the float CNN trained by an earlier run with the same --epochs,\n"
    "                    or train it and save it there (safetensors, PyTorch layouts)\n"
    "  --save-model FILE write the int8 model (percentile calibration) to FILE, reload it and\n"
    "                    compare its predictions with the model in memory\n"
    "  --full            then also a MobileNet-style depthwise-separable CNN: per-tensor\n"
    "                    against per-channel weights and equalization + bias correction\n"
    "  --report FILE     also write the table as JSON\n"
    "  --help            this text\n";

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    const auto count = [&]() {
      const std::string v = value();
      char* end = nullptr;
      const unsigned long n = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n == 0)
        throw std::invalid_argument(arg + " needs a positive integer");
      return static_cast<std::size_t>(n);
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (arg == "--epochs") {
      o.epochs = count();
    } else if (arg == "--threads") {
      o.threads = count();
    } else if (arg == "--calibration") {
      o.calibration_images = count();
    } else if (arg == "--qat-lr") {
      o.qat_learning_rate = std::stof(value());
      if (!(o.qat_learning_rate > 0.0f))
        throw std::invalid_argument("--qat-lr needs a positive number");
    } else if (arg == "--data") {
      o.data = value();
    } else if (arg == "--weights") {
      o.weights = value();
    } else if (arg == "--full") {
      o.full = true;
    } else if (arg == "--save-model") {
      o.save_model = value();
    } else if (arg == "--cache") {
      o.cache = value();
    } else if (arg == "--report") {
      o.report = value();
    } else {
      throw std::invalid_argument("unknown option " + arg + " (see --help)");
    }
  }
  return o;
}

// A one-line progress bar, redrawn in place on a terminal; elsewhere (a CI log) only its end.
void progress_bar(const char* label, std::size_t done, std::size_t total, const std::string& note) {
  static const bool terminal = isatty(fileno(stdout)) != 0;
  if (!terminal && done != total) return;
  constexpr std::size_t width = 30;
  const std::size_t filled = total == 0 ? width : done * width / total;
  std::printf("\r  %-40s [%s%s] %3zu%% %s", label, std::string(filled, '#').c_str(),
              std::string(width - filled, '.').c_str(), total == 0 ? 100 : done * 100 / total,
              note.c_str());
  if (done == total) std::printf("\n");
  std::fflush(stdout);
}

// Reads a file, gzip-compressed or not (zlib passes plain files through).
std::vector<uint8_t> read_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> buffer(1 << 16);
  int n = 0;
  while ((n = gzread(f, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) {
    bytes.insert(bytes.end(), buffer.begin(), buffer.begin() + n);
  }
  gzclose(f);
  if (n < 0) throw std::runtime_error("cannot decompress " + path);
  return bytes;
}

train::Dataset load(const std::string& dir, const std::string& split) {
  return fashion_mnist::dataset(read_file(dir + "/" + split + "-images-idx3-ubyte.gz"),
                                read_file(dir + "/" + split + "-labels-idx1-ubyte.gz"), split);
}

using fashion_mnist::build_cnn;

// Writes the int8 model file, reads it back, and checks the reloaded model predicts what the
// model in memory predicts, image for image.
void save_and_reload(const std::string& path, const nn::QuantizedSequential& model,
                     std::size_t float_bytes, const train::Dataset& test) {
  const std::vector<uint8_t> bytes = io::save_model(model);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> read{std::istreambuf_iterator<char>(in),
                                  std::istreambuf_iterator<char>()};
  const nn::QuantizedSequential loaded = io::load_model(read);
  std::vector<std::size_t> all(test.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::size_t same = 0;
  for (std::size_t first = 0; first < all.size(); first += 500) {
    const std::size_t n = std::min<std::size_t>(500, all.size() - first);
    const Tensor<float> x = test.batch(&all[first], n);
    const std::vector<uint8_t> a = nn::predictions(model.forward(x)),
                               b = nn::predictions(loaded.forward(x));
    for (std::size_t i = 0; i < n; ++i) same += a[i] == b[i] ? 1 : 0;
  }
  std::printf(
      "  wrote %s: %zu bytes (%.1f%% of the fp32 weights); reloaded, same prediction on %zu of %zu "
      "test images\n",
      path.c_str(), bytes.size(),
      100.0 * static_cast<double>(bytes.size()) / static_cast<double>(float_bytes), same,
      test.size());
  if (same != test.size()) throw std::runtime_error("the reloaded model predicts differently");
}

// Copies every parameter of `from` into `to`, a model of the same architecture.
void copy_parameters(nn::Sequential& from, nn::Sequential& to) {
  const std::vector<nn::Parameter*> source = from.parameters(), target = to.parameters();
  for (std::size_t i = 0; i < source.size() && i < target.size(); ++i) {
    target[i]->value = source[i]->value;
  }
}

struct Row {
  std::string variant;
  int bits = 32;
  double accuracy = 0.0;
  std::size_t bytes = 0;
  double latency_ms = 0.0;         // batch 1, median
  double images_per_second = 0.0;  // batch 64, median
};

using Predict = std::function<Tensor<float>(const Tensor<float>&)>;

double seconds(const std::function<void()>& run) {
  const auto start = Clock::now();
  run();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Single-thread speed of every row of a table, measured after all rows exist, in interleaved
// rounds. This machine is shared, and its speed drops by up to 2x for a second or more at a
// time (float and int8 alike; a standalone loop shows it too): rows timed one after another
// would each catch a different share of slow periods, so their ratios would swing. Interleaved,
// every row sees the same mixture, and the medians compare like with like.
class SpeedTable {
 public:
  // Keeps a model alive until measure().
  const nn::QuantizedSequential& keep(nn::QuantizedSequential model) {
    int8_.push_back(std::move(model));
    return int8_.back();
  }
  nn::Sequential& keep(nn::Sequential model) {
    float_.push_back(std::move(model));
    return float_.back();
  }
  void add(Predict serial) { serial_.push_back(std::move(serial)); }

  // Fills each row's latency and throughput; rows[i] is the i-th add().
  void measure(std::vector<Row>& rows, const train::Dataset& test) {
    constexpr std::size_t rounds = 41;
    std::vector<std::size_t> first(64);
    for (std::size_t i = 0; i < first.size(); ++i) first[i] = i;
    const Tensor<float> one = test.batch(first.data(), 1), batch = test.batch(first.data(), 64);
    std::vector<std::vector<double>> latency(serial_.size()), batch_time(serial_.size());
    for (std::size_t round = 0; round < rounds; ++round) {
      progress_bar("timing (one thread)", round, rounds, "");
      for (std::size_t i = 0; i < serial_.size(); ++i) {
        serial_[i](one);  // caches warm with this row's weights, as in a steady stream
        for (int k = 0; k < 3; ++k) latency[i].push_back(seconds([&] { serial_[i](one); }));
        batch_time[i].push_back(seconds([&] { serial_[i](batch); }));
      }
    }
    progress_bar("timing (one thread)", rounds, rounds, "");
    for (std::size_t i = 0; i < rows.size() && i < serial_.size(); ++i) {
      rows[i].latency_ms = 1e3 * median(latency[i]);
      rows[i].images_per_second = 64.0 / median(batch_time[i]);
    }
  }

 private:
  std::deque<nn::QuantizedSequential> int8_;
  std::deque<nn::Sequential> float_;
  std::vector<Predict> serial_;
};

// Accuracy on the test set (through `parallel`); the single-thread predictor joins `speed`.
Row measure(const std::string& variant, int bits, std::size_t bytes, const Predict& parallel,
            Predict serial, const train::Dataset& test, SpeedTable& speed) {
  Row r{variant, bits, 0.0, bytes, 0.0, 0.0};
  r.accuracy =
      train::accuracy(parallel, test, 256, [&](std::size_t done, std::size_t total, float) {
        progress_bar(("eval " + variant).c_str(), done, total, "");
      });
  speed.add(std::move(serial));
  return r;
}

std::size_t parameter_bytes(nn::Sequential& model) {
  std::size_t count = 0;
  for (const nn::Parameter* p : model.parameters()) count += p->value.size();
  return count * sizeof(float);
}

// A float model's row: accuracy through the pool, speed on the calling thread alone. `model`
// must outlive speed.measure().
Row measure_float(const std::string& variant, nn::Sequential& model, ThreadPool& pool,
                  const train::Dataset& test, SpeedTable& speed) {
  const Predict parallel = [&](const Tensor<float>& x) { return model.forward(x); };
  Predict serial = [&model, &pool](const Tensor<float>& x) {
    model.set_executor({});
    Tensor<float> y = model.forward(x);
    model.set_executor(pool.hook());
    return y;
  };
  return measure(variant, 32, parameter_bytes(model), parallel, std::move(serial), test, speed);
}

// An int8 model's row; the table keeps the model.
Row measure_int8(const std::string& variant, int bits, nn::QuantizedSequential q, ThreadPool& pool,
                 const train::Dataset& test, SpeedTable& speed) {
  const nn::QuantizedSequential& model = speed.keep(std::move(q));
  const Predict parallel = [&](const Tensor<float>& x) { return model.forward(x, pool.hook()); };
  Predict serial = [&model](const Tensor<float>& x) { return model.forward(x); };
  return measure(variant, bits, model.weight_bytes(), parallel, std::move(serial), test, speed);
}

// The first `count` images of a dataset (the calibration set).
train::Dataset first_images(const train::Dataset& data, std::size_t count) {
  train::Dataset subset = data;
  const std::size_t n = std::min(count, data.size());
  subset.values.resize(n * data.example_size());
  subset.labels.resize(n);
  return subset;
}

// A training progress bar with the running loss and the seconds since it was made.
train::Progress epoch_progress(std::string label) {
  const auto start = Clock::now();
  return [label = std::move(label), start](std::size_t done, std::size_t total, float loss) {
    if (done % 20 != 0 && done != total) return;
    char note[64];
    std::snprintf(note, sizeof note, "loss %.4f  %.0f s", loss,
                  std::chrono::duration<double>(Clock::now() - start).count());
    progress_bar(label.c_str(), done, total, note);
  };
}

void print_table(const std::vector<Row>& rows) {
  std::printf("\n%-40s %5s %9s %12s %12s %14s\n", "variant", "bits", "accuracy", "bytes",
              "latency b=1", "batch 64");
  for (const Row& r : rows) {
    std::printf("%-40s %5d %8.2f%% %12zu %9.3f ms %10.0f img/s\n", r.variant.c_str(), r.bits,
                100.0 * r.accuracy, r.bytes, r.latency_ms, r.images_per_second);
  }
}

void write_report(const std::string& path, const std::vector<Row>& rows) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  std::fprintf(f, "[\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::fprintf(f,
                 "  {\"variant\": \"%s\", \"bits\": %d, \"accuracy\": %.4f, \"bytes\": %zu, "
                 "\"latency_ms\": %.4f, \"throughput_images_per_s\": %.1f}%s\n",
                 r.variant.c_str(), r.bits, r.accuracy, r.bytes, r.latency_ms, r.images_per_second,
                 i + 1 < rows.size() ? "," : "");
  }
  std::fprintf(f, "]\n");
  std::fclose(f);
}

void after_training(const Options& o, nn::Sequential& model, ThreadPool& pool,
                    const train::Dataset& train_set, const train::Dataset& test_set);
void run_full(const Options& o, ThreadPool& pool, const train::Dataset& train_set,
              const train::Dataset& test_set);

// Loads `model`'s weights from `weights` (a PyTorch export), or from `cache` when it holds a
// model trained with the same settings; otherwise trains it and saves it to `cache`.
void train_or_load(nn::Sequential& model, const std::vector<std::string>& names,
                   const std::string& weights, const std::string& cache, const Options& o,
                   const train::Dataset& train_set) {
  const std::vector<std::size_t>& image = fashion_mnist::image_dims;
  const std::string epochs = std::to_string(o.epochs);
  const std::string source = !weights.empty() ? weights : cache;
  if (!source.empty() && std::ifstream(source).good()) {
    std::ifstream in(source, std::ios::binary);
    const io::Safetensors file = io::Safetensors::parse(
        {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()});
    const std::string* trained = file.metadata_value("epochs");
    const std::string* schedule = file.metadata_value("schedule");
    if (!weights.empty() || (trained != nullptr && *trained == epochs && schedule != nullptr &&
                             *schedule == "cosine")) {
      io::load_pytorch_weights(model, file, names, image);
      std::printf("  loaded the float model from %s\n", source.c_str());
      return;
    }
  } else if (!weights.empty()) {
    throw std::runtime_error("cannot read " + weights);
  }
  train::Adam adam(model.parameters(), 1e-3f);
  for (std::size_t e = 0; e < o.epochs; ++e) {
    adam.lr = train::cosine_learning_rate(1e-3f, e, o.epochs);
    train::train_epoch(
        model, adam, train_set, {64, 1, e},
        epoch_progress("train epoch " + std::to_string(e + 1) + "/" + std::to_string(o.epochs)));
  }
  if (!cache.empty()) {
    const std::vector<uint8_t> bytes =
        io::save_pytorch_weights(model, names, image, {{"epochs", epochs}, {"schedule", "cosine"}});
    std::ofstream out(cache, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + cache);
    std::printf("  saved the float model to %s\n", cache.c_str());
  }
}

void run(const Options& o) {
  std::printf("qinfer Fashion-MNIST demo: GEMM path %s, %zu threads\n", isa_name(active_isa()),
              o.threads);
  const train::Dataset train_set = load(o.data, "train"), test_set = load(o.data, "t10k");
  std::printf("  %zu training and %zu test images\n", train_set.size(), test_set.size());
  ThreadPool pool(o.threads);
  nn::Sequential model;
  build_cnn(model);
  model.initialize(1);
  model.set_executor(pool.hook());
  train_or_load(model, fashion_mnist::pytorch_names, o.weights, o.cache, o, train_set);
  after_training(o, model, pool, train_set, test_set);
  if (o.full) run_full(o, pool, train_set, test_set);
}

// The MobileNet-style depthwise-separable CNN of --full.
void build_mobilenet(nn::Sequential& model) {
  model.add<nn::Conv2d>(nn::Conv2dOptions{1, 16, 3, 1, 1});
  model.add<nn::ReLU>();
  model.add<nn::DepthwiseConv2d>(nn::DepthwiseOptions{16, 3, 2, 1});
  model.add<nn::ReLU>();
  model.add<nn::Conv2d>(nn::Conv2dOptions{16, 32, 1, 1, 0});
  model.add<nn::ReLU>();
  model.add<nn::DepthwiseConv2d>(nn::DepthwiseOptions{32, 3, 2, 1});
  model.add<nn::ReLU>();
  model.add<nn::Conv2d>(nn::Conv2dOptions{32, 64, 1, 1, 0});
  model.add<nn::ReLU>();
  model.add<nn::GlobalAvgPool2d>();
  model.add<nn::Linear>(64, 10);
}

// --full: per-tensor against per-channel weights and against equalization with bias
// correction, on the depthwise-separable model where per-tensor weights are known to suffer.
void run_full(const Options& o, ThreadPool& pool, const train::Dataset& train_set,
              const train::Dataset& test_set) {
  std::printf("\n--full: a MobileNet-style depthwise-separable CNN\n");
  const std::vector<std::string> names{"conv1", "dw1", "pw1", "dw2", "pw2", "fc"};
  nn::Sequential model;
  build_mobilenet(model);
  model.initialize(2);
  model.set_executor(pool.hook());
  std::string cache = o.cache;
  if (!cache.empty()) cache = cache.substr(0, cache.rfind('.')) + "_mobilenet.safetensors";
  train_or_load(model, names, "", cache, o, train_set);
  const train::Dataset calibration = first_images(train_set, o.calibration_images);
  SpeedTable speed;
  std::vector<Row> rows{measure_float("fp32", model, pool, test_set, speed)};
  struct Variant {
    const char* name;
    bool per_channel;
    bool equalize_and_correct;
  };
  const Variant variants[] = {{"int8 PTQ per-tensor w", false, false},
                              {"int8 PTQ per-channel w", true, false},
                              {"int8 PTQ per-tensor w, CLE + bias corr.", false, true}};
  for (const Variant& v : variants) {
    nn::Sequential copy;
    build_mobilenet(copy);
    copy_parameters(model, copy);
    if (v.equalize_and_correct) calib::equalize_cross_layer(copy);
    calib::PtqOptions p;
    p.per_channel = v.per_channel;
    p.bias_correction = v.equalize_and_correct;
    rows.push_back(measure_int8(v.name, 8, calib::quantize_model(copy, calibration, p).model, pool,
                                test_set, speed));
  }
  speed.measure(rows, test_set);
  print_table(rows);
}

// Everything after the float model exists: PTQ, QAT, the table.
void after_training(const Options& o, nn::Sequential& model, ThreadPool& pool,
                    const train::Dataset& train_set, const train::Dataset& test_set) {
  SpeedTable speed;
  std::vector<Row> rows{measure_float("fp32", model, pool, test_set, speed)};
  const train::Dataset calibration = first_images(train_set, o.calibration_images);
  struct Variant {
    const char* name;
    calib::PtqOptions options;
    bool equalize = false;  // cross-layer equalization of a copy of the float model first
  };
  const auto options = [](calib::Calibration c, int bits, calib::WeightRange w, bool per_channel) {
    calib::PtqOptions p;
    p.calibration = c;
    p.weight_bits = bits;
    p.weight_range = w;
    p.per_channel = per_channel;
    return p;
  };
  const auto corrected = [](calib::PtqOptions p) {
    p.bias_correction = true;
    return p;
  };
  using calib::Calibration;
  using calib::WeightRange;
  const Variant variants[] = {
      {"int8 PTQ min-max, per-tensor w",
       options(Calibration::min_max, 8, WeightRange::max_abs, false)},
      {"int8 PTQ min-max", options(Calibration::min_max, 8, WeightRange::max_abs, true)},
      {"int8 PTQ percentile 99.99",
       options(Calibration::percentile, 8, WeightRange::max_abs, true)},
      {"int8 PTQ entropy", options(Calibration::entropy, 8, WeightRange::max_abs, true)},
      {"int8 PTQ mse", options(Calibration::mse, 8, WeightRange::max_abs, true)},
      {"w4 PTQ max-abs scales", options(Calibration::percentile, 4, WeightRange::max_abs, true)},
      {"w4 PTQ mse scales", options(Calibration::percentile, 4, WeightRange::mse, true)},
      {"w4 PTQ output-mse scales",
       options(Calibration::percentile, 4, WeightRange::output_mse, true)},
      {"int8 PTQ per-tensor w, CLE + bias corr.",
       corrected(options(Calibration::min_max, 8, WeightRange::max_abs, false)), true},
      {"w4 PTQ per-tensor w, CLE + bias corr.",
       corrected(options(Calibration::percentile, 4, WeightRange::mse, false)), true},
      {"w4 PTQ mse scales + bias corr.",
       corrected(options(Calibration::percentile, 4, WeightRange::mse, true))},
  };
  for (const Variant& v : variants) {
    nn::Sequential equalized;
    if (v.equalize) {
      build_cnn(equalized);
      copy_parameters(model, equalized);
      calib::equalize_cross_layer(equalized);
    }
    const calib::PtqResult q =
        calib::quantize_model(v.equalize ? equalized : model, calibration, v.options);
    if (!o.save_model.empty() && v.options.calibration == Calibration::percentile &&
        v.options.weight_bits == 8) {
      save_and_reload(o.save_model, q.model, parameter_bytes(model), test_set);
    }
    if (v.options.weight_bits == 4 && v.options.per_channel && !v.options.bias_correction &&
        v.options.weight_range == WeightRange::mse) {
      const std::size_t bytes = io::save_model(q.model).size();
      std::printf("  a 4-bit model file (%s): %zu bytes (%.1f%% of the fp32 weights)\n", v.name,
                  bytes,
                  100.0 * static_cast<double>(bytes) / static_cast<double>(parameter_bytes(model)));
    }
    if (v.options.calibration == Calibration::percentile && v.options.weight_bits == 8) {
      std::printf("  %s, per quantization point (SQNR against float on 100 calibration images):\n",
                  v.name);
      for (const calib::PointReport& p : q.points) {
        if (p.name == "logits") {
          std::printf("    %-8s SQNR %5.1f dB\n", p.name.c_str(), p.sqnr_db);
          continue;
        }
        std::printf("    %-8s range [%8.4f, %8.4f]  scale %.6f  zero point %3d  SQNR %5.1f dB\n",
                    p.name.c_str(), p.range.min, p.range.max, p.params.scale, p.params.zero_point,
                    p.sqnr_db);
      }
    }
    rows.push_back(measure_int8(v.name, v.options.weight_bits, q.model, pool, test_set, speed));
  }
  // One more epoch of training from a copy of the float model: through fake quantization (QAT)
  // at 8 and 4 weight bits, and in float alone, the baseline QAT's extra epoch is judged by.
  struct FineTune {
    const char* name;
    bool quantized;
    calib::PtqOptions options;
  };
  const FineTune fine_tunes[] = {
      {"fp32 (+1 epoch, as QAT)", false, {}},
      {"int8 QAT (1 epoch)", true, options(Calibration::percentile, 8, WeightRange::max_abs, true)},
      {"w4 QAT (1 epoch)", true, options(Calibration::percentile, 4, WeightRange::mse, true)},
  };
  for (const FineTune& f : fine_tunes) {
    nn::Sequential& tuned = speed.keep(nn::Sequential());
    build_cnn(tuned);
    copy_parameters(model, tuned);
    tuned.set_executor(pool.hook());
    if (f.quantized) calib::prepare_qat(tuned, calibration, f.options);
    train::Adam fine_tune(tuned.parameters(), o.qat_learning_rate);
    train::train_epoch(tuned, fine_tune, train_set, {64, 2, 0}, epoch_progress(f.name));
    if (!f.quantized) {
      rows.push_back(measure_float(f.name, tuned, pool, test_set, speed));
      continue;
    }
    calib::freeze_qat(tuned);
    const calib::PtqResult q = calib::quantize_model(tuned, calibration, f.options);
    rows.push_back(measure_int8(f.name, f.options.weight_bits, q.model, pool, test_set, speed));
  }
  speed.measure(rows, test_set);
  print_table(rows);
  std::printf(
      "(bytes: weights and biases as stored; latency and throughput: medians, one thread)\n");
  if (!o.report.empty()) {
    write_report(o.report, rows);
    std::printf("wrote %s\n", o.report.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    run(parse(argc, argv));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
    return 1;
  }
}
