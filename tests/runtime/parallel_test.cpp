// SPDX-License-Identifier: Apache-2.0
//
// The executors of runtime/parallel.hpp and runtime/thread_pool.hpp keep their contract: every
// task index runs exactly once and the call returns after all of them.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include "qinfer/runtime/parallel.hpp"
#include "qinfer/runtime/thread_pool.hpp"

using namespace qinfer;

namespace {

template <class Executor>
void require_each_task_once(Executor&& executor, std::size_t tasks) {
  std::vector<std::atomic<int>> runs(tasks);
  executor(tasks, [&](std::size_t i) { runs[i].fetch_add(1, std::memory_order_relaxed); });
  for (std::size_t i = 0; i < tasks; ++i) REQUIRE(runs[i].load() == 1);
}

}  // namespace

TEST_CASE("the serial executor and the hook without a pool run every task once", "[threads]") {
  for (std::size_t tasks : {0, 1, 2, 100}) {
    require_each_task_once(SerialExecutor{}, tasks);
    require_each_task_once(ParallelForHook{}, tasks);
  }
}

TEST_CASE("runs_serially knows the executors that run on the caller", "[threads]") {
  CHECK(runs_serially(SerialExecutor{}));
  CHECK(runs_serially(ParallelForHook{}));
  ThreadPool one(1), two(2);
  CHECK(runs_serially(one));
  CHECK_FALSE(runs_serially(two));
  CHECK_FALSE(runs_serially(one.hook()));
  const auto custom = [](std::size_t, auto&&) {};
  CHECK_FALSE(runs_serially(custom));
}

TEST_CASE("the thread pool runs every task once, call after call", "[threads]") {
  for (std::size_t threads : {1, 2, 7}) {
    ThreadPool pool(threads);
    CHECK(pool.threads() == threads);
    for (int call = 0; call < 50; ++call) {
      for (std::size_t tasks : {0, 1, 3, 64, 1000}) require_each_task_once(pool, tasks);
    }
  }
}

TEST_CASE("calls into one pool from several threads queue and all complete", "[threads]") {
  ThreadPool pool(3);
  std::atomic<std::size_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int call = 0; call < 20; ++call) {
        pool(37, [&](std::size_t) { total.fetch_add(1, std::memory_order_relaxed); });
      }
    });
  }
  for (std::thread& t : callers) t.join();
  CHECK(total.load() == 4u * 20u * 37u);
}
