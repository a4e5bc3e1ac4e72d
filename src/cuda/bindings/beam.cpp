// seqcore._cuda's beam search step, row gather and top-k dot-product search (seqcore_cuda/beam.h).
//
// The Python adapter (seqcore/backends/cuda/beam.py) allocates every output and workspace with CuPy
// and passes their addresses; these functions check what a wrong integer would turn into a fault
// (null pointers where data is read or written, negative or inconsistent sizes, a short workspace)
// and queue the kernels on the caller's stream with the GIL released.
#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>

#include "binding.h"
#include "seqcore_cuda/beam.h"

namespace seqcore_bind {

namespace {

namespace sc = seqcore::cuda;

void check_workspace(std::size_t need, std::size_t have, ptr_t p) {
    if (have < need || (need > 0 && !p))
        throw py::value_error("workspace must be a device buffer of at least " + std::to_string(need) + " bytes, got " +
                              std::to_string(have) + (p ? "" : " at a null pointer"));
}

std::size_t beam_workspace(index_t A, index_t K, index_t V, index_t L) {
    size(A, "A");
    size(V, "V");
    if (K < 1) throw py::value_error("K (the beam width) must be >= 1, got " + std::to_string(K));
    if (L < 1) throw py::value_error("L (max_len) must be >= 1, got " + std::to_string(L));
    product(product(A, K, "A*K"), std::max<index_t>(V, L), "A*K*max(V, L)");
    return sc::beam_search_workspace_bytes(A, K, V, L);
}

void beam_search_step(ptr_t scores, ptr_t tokens, ptr_t fin_scores, ptr_t fin_log_probs, ptr_t fin_tokens,
                      ptr_t fin_lengths, ptr_t fin_count, ptr_t done, index_t B, index_t K, index_t L, ptr_t log_probs,
                      ptr_t rows, index_t A, index_t V, index_t step, index_t eos, ptr_t length_norm, ptr_t parents,
                      ptr_t first_bad, ptr_t workspace, std::size_t workspace_bytes, const std::string& dtype,
                      ptr_t stream) {
    const bool dbl = is_double(dtype);
    size(B, "B");
    size(A, "A");
    size(V, "V");
    if (K < 1) throw py::value_error("K (the beam width) must be >= 1, got " + std::to_string(K));
    if (L < 1) throw py::value_error("L (max_len) must be >= 1, got " + std::to_string(L));
    if (A > B) throw py::value_error("A (rows searching) must be <= B, got " + std::to_string(A));
    product(product(B, K, "B*K"), L, "B*K*L");
    product(product(A, K, "A*K"), V, "A*K*V");
    const bool none = A == 0;
    if (!none) {
        if (V < 1) throw py::value_error("V (log_probs' columns) must be >= 1, got " + std::to_string(V));
        if (step < 0 || step >= L)
            throw py::value_error("step must lie in [0, L) = [0, " + std::to_string(L) + "), got " +
                                  std::to_string(step));
        if (eos < -1 || eos >= V)
            throw py::value_error("eos must lie in [0, V) = [0, " + std::to_string(V) + ") or be -1 (none), got " +
                                  std::to_string(eos));
    }
    sc::BeamState s;
    s.B = B;
    s.K = K;
    s.L = L;
    s.scores = device<double>(scores, "state.scores", none);
    s.tokens = device<index_t>(tokens, "state.tokens", none);
    s.fin_scores = device<double>(fin_scores, "state.fin_scores", none);
    s.fin_log_probs = device<double>(fin_log_probs, "state.fin_log_probs", none);
    s.fin_tokens = device<index_t>(fin_tokens, "state.fin_tokens", none);
    s.fin_lengths = device<index_t>(fin_lengths, "state.fin_lengths", none);
    s.fin_count = device<index_t>(fin_count, "state.fin_count", none);
    s.done = device<std::uint8_t>(done, "state.done", none);
    const index_t* pr = device<const index_t>(rows, "rows", none);
    const double* pn = device<const double>(length_norm, "length_norm", none);
    index_t* pp = device<index_t>(parents, "parents", none);
    index_t* pb = device<index_t>(first_bad, "first_bad");
    check_workspace(beam_workspace(A, K, V, L), workspace_bytes, workspace);
    void* ws = reinterpret_cast<void*>(workspace);
    const sc::Context ctx = context(stream);
    if (dbl) {
        const double* lp = device<const double>(log_probs, "log_probs", none);
        py::gil_scoped_release nogil;
        sc::beam_search_step<double>(ctx, s, A, V, lp, pr, step, eos, pn, pp, pb, ws, workspace_bytes);
    } else {
        const float* lp = device<const float>(log_probs, "log_probs", none);
        py::gil_scoped_release nogil;
        sc::beam_search_step<float>(ctx, s, A, V, lp, pr, step, eos, pn, pp, pb, ws, workspace_bytes);
    }
}

void gather_rows(ptr_t x, ptr_t idx, ptr_t out, index_t N, index_t R, index_t M, const std::string& dtype,
                 ptr_t stream) {
    size(N, "N");
    size(R, "R");
    size(M, "M");
    product(N, R, "N*R");
    product(M, R, "M*R");
    const bool empty = M == 0 || R == 0;
    if (!empty && N == 0) throw py::value_error("x has no rows (N = 0) to gather from, but M = " + std::to_string(M));
    const index_t* pi = device<const index_t>(idx, "idx", M == 0);
    const sc::Context ctx = context(stream);
    auto run = [&](auto tag) {
        using T = decltype(tag);
        const T* px = device<const T>(x, "x", empty);
        T* po = device<T>(out, "out", empty);
        py::gil_scoped_release nogil;
        sc::gather_rows<T>(ctx, N, R, M, px, pi, po);
    };
    if (dtype == "float32")
        run(float{});
    else if (dtype == "float64")
        run(double{});
    else if (dtype == "int64")
        run(index_t{});
    else
        throw py::type_error("dtype must be 'float32', 'float64' or 'int64', got '" + dtype + "'");
}

std::size_t topk_dot_workspace(index_t V, index_t E, index_t Q, index_t k, index_t X, const std::string& dtype) {
    const bool dbl = is_double(dtype);
    size(V, "V");
    size(E, "E");
    size(Q, "Q");
    size(k, "k");
    size(X, "X");
    product(Q, V, "Q*V");
    return sc::topk_dot_workspace_bytes(V, E, Q, k, X, dbl ? sizeof(double) : sizeof(float));
}

void topk_dot(ptr_t matrix, ptr_t queries, ptr_t exclude, index_t V, index_t E, index_t Q, index_t k, index_t X,
              ptr_t scores, ptr_t ids, ptr_t workspace, std::size_t workspace_bytes, const std::string& dtype,
              ptr_t stream) {
    const bool dbl = is_double(dtype);
    const std::size_t need = topk_dot_workspace(V, E, Q, k, X, dtype);
    if (Q > 0 && (k < 1 || k > V))
        throw py::value_error("k must lie in [1, V] = [1, " + std::to_string(V) + "], got " + std::to_string(k));
    product(V, E, "V*E");
    product(Q, E, "Q*E");
    product(Q, X, "Q*X");
    const bool none = Q == 0;
    const bool no_features = none || E == 0;
    const index_t* pe = device<const index_t>(exclude, "exclude", none || X == 0);
    index_t* pid = device<index_t>(ids, "ids", none);
    check_workspace(need, workspace_bytes, workspace);
    void* ws = reinterpret_cast<void*>(workspace);
    const sc::Context ctx = context(stream);
    auto run = [&](auto tag) {
        using T = decltype(tag);
        const T* pm = device<const T>(matrix, "matrix", no_features);
        const T* pq = device<const T>(queries, "queries", no_features);
        T* ps = device<T>(scores, "scores", none);
        py::gil_scoped_release nogil;
        sc::topk_dot<T>(ctx, V, E, Q, k, pm, pq, X > 0 ? pe : nullptr, X, ps, pid, ws, workspace_bytes);
    };
    if (dbl)
        run(double{});
    else
        run(float{});
}

}  // namespace

void bind_beam(py::module_& m) {
    m.def("beam_search_workspace_bytes", &beam_workspace, py::arg("A"), py::arg("K"), py::arg("V"),
          py::arg("L"), "bytes of device workspace beam_search_step needs");
    m.def("beam_search_step", &beam_search_step, py::arg("scores"), py::arg("tokens"), py::arg("fin_scores"),
          py::arg("fin_log_probs"), py::arg("fin_tokens"), py::arg("fin_lengths"), py::arg("fin_count"),
          py::arg("done"), py::arg("B"), py::arg("K"), py::arg("L"), py::arg("log_probs"), py::arg("rows"),
          py::arg("A"), py::arg("V"), py::arg("step"), py::arg("eos"), py::arg("length_norm"), py::arg("parents"),
          py::arg("first_bad"), py::arg("workspace"), py::arg("workspace_bytes"), py::arg("dtype"),
          py::arg("stream"),
          "one beam search step on device arrays, the state updated in place; first_bad[0] gets row*V + col of the "
          "first bad log-prob (nothing else written) or -1");
    m.def("gather_rows", &gather_rows, py::arg("x"), py::arg("idx"), py::arg("out"), py::arg("N"), py::arg("R"),
          py::arg("M"), py::arg("dtype"), py::arg("stream"), "out[m] = x[idx[m]], rows of R elements");
    m.def("topk_dot_workspace_bytes", &topk_dot_workspace, py::arg("V"), py::arg("E"), py::arg("Q"), py::arg("k"),
          py::arg("X"), py::arg("dtype"), "bytes of device workspace topk_dot needs");
    m.def("topk_dot", &topk_dot, py::arg("matrix"), py::arg("queries"), py::arg("exclude"), py::arg("V"),
          py::arg("E"), py::arg("Q"), py::arg("k"), py::arg("X"), py::arg("scores"), py::arg("ids"),
          py::arg("workspace"), py::arg("workspace_bytes"), py::arg("dtype"), py::arg("stream"),
          "the k best rows of queries @ matrix.T per query, best first");
}

}  // namespace seqcore_bind
