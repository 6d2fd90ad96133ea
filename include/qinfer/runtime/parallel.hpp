// SPDX-License-Identifier: Apache-2.0
//
// The parallel-for hook the operators split their work through. An executor is any callable
//
//   executor(std::size_t tasks, body)
//
// that calls body(i) exactly once for every i in [0, tasks), on any threads and in any order,
// and returns when all calls have returned. Operators make tasks that write disjoint outputs
// and compute each output the same way whichever task runs it, so results never depend on the
// executor. qinfer starts no thread of its own: SerialExecutor is the default, ThreadPool
// (runtime/thread_pool.hpp) a small optional pool, and ParallelForHook adapts an engine's pool
// given as a function pointer and a context, as a C caller would.
#pragma once

#include <cstddef>
#include <type_traits>

namespace qinfer {

struct SerialExecutor {
  template <class Body>
  void operator()(std::size_t tasks, Body&& body) const {
    for (std::size_t i = 0; i < tasks; ++i) body(i);
  }
};

struct ParallelForHook {
  using Task = void (*)(void* task_context, std::size_t index);
  // Must call task(task_context, i) once for each i in [0, tasks) and return when all are done.
  void (*run)(void* pool, std::size_t tasks, Task task, void* task_context) = nullptr;
  void* pool = nullptr;

  // Without a run function the tasks run on the calling thread.
  template <class Body>
  void operator()(std::size_t tasks, Body&& body) const {
    if (run == nullptr) return SerialExecutor{}(tasks, body);
    using Callable = std::remove_reference_t<Body>;
    run(
        pool, tasks,
        [](void* context, std::size_t index) { (*static_cast<Callable*>(context))(index); },
        const_cast<void*>(static_cast<const void*>(&body)));
  }
};

// Whether an executor is known to run every task on the calling thread. Operators whose tasks
// cost something each (the depthwise rows kernel re-reads the rows above each task's first)
// then make one task. Any other executor may be parallel.
template <class Executor>
constexpr bool runs_serially(const Executor& /*executor*/) noexcept {
  return false;
}
constexpr bool runs_serially(const SerialExecutor& /*executor*/) noexcept {
  return true;
}
inline bool runs_serially(const ParallelForHook& hook) noexcept {
  return hook.run == nullptr;
}

}  // namespace qinfer
