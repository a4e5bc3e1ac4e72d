// A team of std::threads for kernels that run their own workers (Hogwild SGD, top-k search).
#pragma once

#include <thread>
#include <vector>

namespace seqcore {

// Calls work(t) for t in [0, n): t = 0 on the calling thread, the others on new threads, joined
// before returning.  A thread that cannot be started has its share run on the calling thread
// afterwards, so no exception escapes with threads still running.  work must not throw.
template <typename F>
void run_on_threads(int n, F&& work) {
    std::vector<std::thread> pool;
    std::vector<int> unstarted;
    for (int t = 1; t < n; ++t) {
        try {
            pool.emplace_back(work, t);
        } catch (...) {
            unstarted.push_back(t);
        }
    }
    work(0);
    for (auto& th : pool) th.join();
    for (int t : unstarted) work(t);
}

}  // namespace seqcore
