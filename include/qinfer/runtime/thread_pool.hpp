// SPDX-License-Identifier: Apache-2.0
//
// A small optional thread pool usable as a qinfer executor (runtime/parallel.hpp). The calling
// thread works too, so ThreadPool(n) computes on n threads with n - 1 workers started in the
// constructor. Tasks are handed out through one atomic counter: cheap enough for the coarse
// tasks the operators make (a GEMM task is 64 rows x 256 columns). One call runs at a time;
// concurrent calls from different threads queue. Bodies must not throw.
#pragma once

#include <algorithm>
#include <atomic>
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
      stopping_ = true;
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
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      job_ = Job{[](const void* context, std::size_t index) {
                   (*static_cast<Callable*>(const_cast<void*>(context)))(index);
                 },
                 &body, tasks};
      next_.store(0, std::memory_order_relaxed);
      busy_ = workers_.size();
      ++generation_;
    }
    wake_.notify_all();
    run_tasks();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_ == 0; });
  }

 private:
  struct Job {
    void (*call)(const void* context, std::size_t index) = nullptr;
    const void* context = nullptr;
    std::size_t tasks = 0;
  };

  void run_tasks() {
    for (std::size_t i = next_.fetch_add(1, std::memory_order_relaxed); i < job_.tasks;
         i = next_.fetch_add(1, std::memory_order_relaxed)) {
      job_.call(job_.context, i);
    }
  }

  void work() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      run_tasks();
      const std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex call_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  Job job_;
  std::atomic<std::size_t> next_{0};
  std::size_t busy_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

}  // namespace qinfer
