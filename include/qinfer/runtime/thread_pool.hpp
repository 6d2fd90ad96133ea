// SPDX-License-Identifier: Apache-2.0
//
// A small optional thread pool usable as a qinfer executor (runtime/parallel.hpp). The calling
// thread works too, so ThreadPool(n) computes on n threads with n - 1 workers started in the
// constructor. Tasks are handed out through one atomic counter: cheap enough for the coarse
// tasks the operators make (a GEMM task is 64 rows x 256 columns). One call runs at a time;
// concurrent calls from different threads queue. Bodies must not throw.
//
// A call returns once every worker has checked out of it. Workers and the caller therefore
// spin (yielding) for up to spin_time before they block on a condition variable: a network's
// layers are calls of 20-100 us each, and with a wake-up per call MobileNetV2 ran no faster on
// two threads than on one on the shared VM this was measured on (2.2-2.5 ms with spinning and
// finer GEMM tasks, against 2.5-2.6 on one thread).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "qinfer/runtime/parallel.hpp"

namespace qinfer {

class ThreadPool {
 public:
  explicit ThreadPool(std::size_t threads) {
    const std::size_t workers = std::max<std::size_t>(threads, 1) - 1;
    workers_.reserve(workers);
    for (std::size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  std::size_t threads() const noexcept { return workers_.size() + 1; }

  // This pool as a type-erased executor, for code that stores one (the nn layers).
  ParallelForHook hook() noexcept {
    return {[](void* pool, std::size_t tasks, ParallelForHook::Task task, void* context) {
              (*static_cast<ThreadPool*>(pool))(tasks, [&](std::size_t i) { task(context, i); });
            },
            this};
  }

  template <class Body>
  void operator()(std::size_t tasks, Body&& body) {
    if (tasks <= 1 || workers_.empty()) {
      for (std::size_t i = 0; i < tasks; ++i) body(i);
      return;
    }
    using Callable = std::remove_reference_t<Body>;
    const std::lock_guard<std::mutex> one_call(call_mutex_);
    bool sleepers = false;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      job_ = Job{[](const void* context, std::size_t index) {
                   (*static_cast<Callable*>(const_cast<void*>(context)))(index);
                 },
                 &body, tasks};
      next_.store(0, std::memory_order_relaxed);
      busy_.store(workers_.size(), std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
      sleepers = sleeping_ != 0;
    }
    if (sleepers) wake_.notify_all();
    run_tasks();
    if (spin([this] { return busy_.load(std::memory_order_acquire) == 0; })) return;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_.load(std::memory_order_acquire) == 0; });
  }

 private:
  struct Job {
    void (*call)(const void* context, std::size_t index) = nullptr;
    const void* context = nullptr;
    std::size_t tasks = 0;
  };

  static constexpr std::chrono::microseconds spin_time{200};

  // Yields until done() holds or spin_time has passed; says whether done() held.
  template <class Done>
  static bool spin(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + spin_time;
    for (unsigned i = 1;; ++i) {
      if (done()) return true;
      if (i % 16 == 0 && std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
  }

  void run_tasks() {
    for (std::size_t i = next_.fetch_add(1, std::memory_order_relaxed); i < job_.tasks;
         i = next_.fetch_add(1, std::memory_order_relaxed)) {
      job_.call(job_.context, i);
    }
  }

  void work() {
    uint64_t seen = 0;
    for (;;) {
      const auto called = [&] {
        return stopping_.load(std::memory_order_acquire) ||
               generation_.load(std::memory_order_acquire) != seen;
      };
      if (!spin(called)) {
        std::unique_lock<std::mutex> lock(mutex_);
        ++sleeping_;
        wake_.wait(lock, called);
        --sleeping_;
      }
      if (stopping_.load(std::memory_order_acquire)) return;
      seen = generation_.load(std::memory_order_acquire);
      run_tasks();
      if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // Under the mutex, so that a caller between its test and its wait cannot miss this.
        const std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex call_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  Job job_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> busy_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  std::size_t sleeping_ = 0;  // workers blocked on wake_, under mutex_
};

// A pool of one thread runs every task on the caller (runtime/parallel.hpp).
inline bool runs_serially(const ThreadPool& pool) noexcept {
  return pool.threads() == 1;
}

}  // namespace qinfer
