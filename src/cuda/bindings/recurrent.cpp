// seqcore._cuda's recurrent kernels (seqcore_cuda/recurrent.h): LSTM, GRU and RNN forward /
// backward pairs and cells.
//
// The Python adapter (seqcore/backends/cuda/recurrent.py) allocates every output and workspace
// with CuPy and passes their addresses.  These functions check what a wrong integer would turn
// into a fault (negative or overflowing sizes, a null pointer where an array has elements) and
// queue the kernels on the caller's stream with the GIL released.  CuPy gives an empty array the
// address 0, so a pointer may be null exactly when its array is empty (or optional).
#include <limits>
#include <string>

#include "binding.h"
#include "seqcore_cuda/recurrent.h"

namespace seqcore_bind {

namespace {

namespace sc = seqcore::cuda;

// Sizes of a call, checked once: B rows, T steps, D inputs, H units, G gates per unit.
struct Sizes {
    index_t B, T, D, H, G, BH, BTD, BTH, BTG, BG, DG, HG;
};

Sizes sizes(index_t B, index_t T_, index_t D, index_t H, index_t gates) {
    Sizes z{};
    z.B = size(B, "B");
    z.T = size(T_, "T");
    z.D = size(D, "D");
    z.H = size(H, "H");
    z.G = product(gates, z.H, "G*H");
    z.BH = product(z.B, z.H, "B*H");
    const index_t BT = product(z.B, z.T, "B*T");
    z.BTD = product(BT, z.D, "B*T*D");
    z.BTH = product(BT, z.H, "B*T*H");
    z.BTG = product(BT, z.G, "B*T*G*H");
    z.BG = product(z.B, z.G, "B*G*H");
    z.DG = product(z.D, z.G, "D*G*H");
    z.HG = product(z.H, z.G, "H*G*H");
    return z;
}

// A device array of n elements: its pointer may be null only when it is empty.
template <typename T>
T* arr(ptr_t p, const char* name, index_t n) {
    return device<T>(p, name, n == 0);
}

// An optional input (dy, dhT, dcT; null means zeros).
template <typename T>
const T* opt(ptr_t p, const char* name) {
    return device<const T>(p, name, true);
}

const index_t* lengths_of(ptr_t p) { return device<const index_t>(p, "lengths", true); }

// work_x is read only when lengths is given and some step runs (B*H > 0).
template <typename T>
T* work_x_of(ptr_t p, ptr_t lengths, const Sizes& z) {
    return device<T>(p, "work_x", !lengths || z.BTD == 0 || z.BH == 0);
}

// ---------------------------------------------------------------- LSTM

void lstm_forward(index_t B, index_t T_, index_t D, index_t H, ptr_t x, ptr_t h0, ptr_t c0, ptr_t W, ptr_t U, ptr_t b,
                  ptr_t lengths, bool reverse, ptr_t y, ptr_t hT, ptr_t cT, ptr_t gates, ptr_t c, ptr_t work_rec,
                  const std::string& dtype, ptr_t stream) {
    const Sizes z = sizes(B, T_, D, H, 4);
    by_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        const T *px = arr<const T>(x, "x", z.BTD), *ph0 = arr<const T>(h0, "h0", z.BH);
        const T *pc0 = arr<const T>(c0, "c0", z.BH), *pW = arr<const T>(W, "W", z.DG);
        const T *pU = arr<const T>(U, "U", z.HG), *pb = arr<const T>(b, "b", z.G);
        T *py = arr<T>(y, "y", z.BTH), *phT = arr<T>(hT, "hT", z.BH), *pcT = arr<T>(cT, "cT", z.BH);
        T *pg = arr<T>(gates, "gates", z.BTG), *pc = arr<T>(c, "c", z.BTH), *pr = arr<T>(work_rec, "work_rec", z.BG);
        const index_t* L = lengths_of(lengths);
        const sc::Context ctx = context(stream);
        {
            py::gil_scoped_release nogil;
            sc::lstm_forward<T>(ctx, z.B, z.T, z.D, z.H, px, ph0, pc0, pW, pU, pb, L, reverse, py, phT, pcT, pg, pc,
                                pr);
        }
    });
}

void lstm_backward(index_t B, index_t T_, index_t D, index_t H, ptr_t x, ptr_t h0, ptr_t c0, ptr_t W, ptr_t U,
                   ptr_t lengths, bool reverse, ptr_t gates, ptr_t c, ptr_t y, ptr_t dy, ptr_t dhT, ptr_t dcT,
                   ptr_t dx, ptr_t dh0, ptr_t dc0, ptr_t dW, ptr_t dU, ptr_t db, ptr_t work_dgates, ptr_t work_step,
                   ptr_t work_dh, ptr_t work_hprev, ptr_t work_x, const std::string& dtype, ptr_t stream) {
    const Sizes z = sizes(B, T_, D, H, 4);
    by_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        const T *px = arr<const T>(x, "x", z.BTD), *ph0 = arr<const T>(h0, "h0", z.BH);
        const T *pc0 = arr<const T>(c0, "c0", z.BH), *pW = arr<const T>(W, "W", z.DG);
        const T *pU = arr<const T>(U, "U", z.HG), *pg = arr<const T>(gates, "gates", z.BTG);
        const T *pc = arr<const T>(c, "c", z.BTH), *py = arr<const T>(y, "y", z.BTH);
        const T *pdy = opt<T>(dy, "dy"), *pdhT = opt<T>(dhT, "dhT"), *pdcT = opt<T>(dcT, "dcT");
        T *pdx = arr<T>(dx, "dx", z.BTD), *pdh0 = arr<T>(dh0, "dh0", z.BH), *pdc0 = arr<T>(dc0, "dc0", z.BH);
        T *pdW = arr<T>(dW, "dW", z.DG), *pdU = arr<T>(dU, "dU", z.HG), *pdb = arr<T>(db, "db", z.G);
        T* wg = arr<T>(work_dgates, "work_dgates", z.BTG);
        T *ws = arr<T>(work_step, "work_step", z.BG), *wd = arr<T>(work_dh, "work_dh", z.BH);
        T *wh = arr<T>(work_hprev, "work_hprev", z.BTH), *wx = work_x_of<T>(work_x, lengths, z);
        const index_t* L = lengths_of(lengths);
        const sc::Context ctx = context(stream);
        {
            py::gil_scoped_release nogil;
            sc::lstm_backward<T>(ctx, z.B, z.T, z.D, z.H, px, ph0, pc0, pW, pU, L, reverse, pg, pc, py, pdy, pdhT,
                                 pdcT, pdx, pdh0, pdc0, pdW, pdU, pdb, wg, ws, wd, wh, wx);
        }
    });
}

void lstm_cell(index_t B, index_t D, index_t H, ptr_t x, ptr_t h, ptr_t c, ptr_t W, ptr_t U, ptr_t b, ptr_t h_out,
               ptr_t c_out, ptr_t work_gates, ptr_t work_rec, const std::string& dtype, ptr_t stream) {
    const Sizes z = sizes(B, 1, D, H, 4);
    by_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        const T *px = arr<const T>(x, "x", z.BTD), *ph = arr<const T>(h, "h", z.BH);
        const T *pc = arr<const T>(c, "c", z.BH), *pW = arr<const T>(W, "W", z.DG);
        const T *pU = arr<const T>(U, "U", z.HG), *pb = arr<const T>(b, "b", z.G);
        T *pho = arr<T>(h_out, "h_out", z.BH), *pco = arr<T>(c_out, "c_out", z.BH);
        T *wg = arr<T>(work_gates, "work_gates", z.BG), *wr = arr<T>(work_rec, "work_rec", z.BG);
        const sc::Context ctx = context(stream);
        {
            py::gil_scoped_release nogil;
            sc::lstm_cell<T>(ctx, z.B, z.D, z.H, px, ph, pc, pW, pU, pb, pho, pco, wg, wr);
        }
    });
}

// ---------------------------------------------------------------- GRU

void gru_forward(index_t B, index_t T_, index_t D, index_t H, ptr_t x, ptr_t h0, ptr_t W, ptr_t U, ptr_t b,
                 bool reset_after, ptr_t lengths, bool reverse, ptr_t y, ptr_t hT, ptr_t gates, ptr_t hr,
                 ptr_t work_rec, ptr_t work_rh, const std::string& dtype, ptr_t stream) {
    const Sizes z = sizes(B, T_, D, H, 3);
    by_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        const T *px = arr<const T>(x, "x", z.BTD), *ph0 = arr<const T>(h0, "h0", z.BH);
        const T *pW = arr<const T>(W, "W", z.DG), *pU = arr<const T>(U, "U", z.HG);
        const T* pb = arr<const T>(b, "b", reset_after ? 2 * z.G : z.G);
        T *py = arr<T>(y, "y", z.BTH), *phT = arr<T>(hT, "hT", z.BH), *pg = arr<T>(gates, "gates", z.BTG);
        T* phr = arr<T>(hr, "hr", reset_after ? z.BTH : 0);
        T *wr = arr<T>(work_rec, "work_rec", z.BG), *wrh = arr<T>(work_rh, "work_rh", reset_after ? 0 : z.BH);
        const index_t* L = lengths_of(lengths);
        const sc::Context ctx = context(stream);
        {
            py::gil_scoped_release nogil;
            sc::gru_forward<T>(ctx, z.B, z.T, z.D, z.H, px, ph0, pW, pU, pb, reset_after, L, reverse, py, phT, pg,
                               phr, wr, wrh);
        }
    });
}

void gru_backward(index_t B, index_t T_, index_t D, index_t H, ptr_t x, ptr_t h0, ptr_t W, ptr_t U, bool reset_after,
                  ptr_t lengths, bool reverse, ptr_t gates, ptr_t hr, ptr_t y, ptr_t dy, ptr_t dhT, ptr_t dx,
                  ptr_t dh0, ptr_t dW, ptr_t dU, ptr_t db, ptr_t work_dgx, ptr_t work_dgr, ptr_t work_step,
                  ptr_t work_drh, ptr_t work_dh, ptr_t work_hprev, ptr_t work_x, const std::string& dtype,
                  ptr_t stream) {
    const Sizes z = sizes(B, T_, D, H, 3);
    by_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        const T *px = arr<const T>(x, "x", z.BTD), *ph0 = arr<const T>(h0, "h0", z.BH);
        const T *pW = arr<const T>(W, "W", z.DG), *pU = arr<const T>(U, "U", z.HG);
        const T *pg = arr<const T>(gates, "gates", z.BTG), *py = arr<const T>(y, "y", z.BTH);
        const T* phr = arr<const T>(hr, "hr", reset_after ? z.BTH : 0);
        const T *pdy = opt<T>(dy, "dy"), *pdhT = opt<T>(dhT, "dhT");
        T *pdx = arr<T>(dx, "dx", z.BTD), *pdh0 = arr<T>(dh0, "dh0", z.BH), *pdW = arr<T>(dW, "dW", z.DG);
        T *pdU = arr<T>(dU, "dU", z.HG), *pdb = arr<T>(db, "db", reset_after ? 2 * z.G : z.G);
        T *wgx = arr<T>(work_dgx, "work_dgx", z.BTG), *wgr = arr<T>(work_dgr, "work_dgr", reset_after ? z.BTG : 0);
        T *ws = arr<T>(work_step, "work_step", z.BG), *wrh = arr<T>(work_drh, "work_drh", reset_after ? 0 : z.BH);
        T *wd = arr<T>(work_dh, "work_dh", z.BH), *wh = arr<T>(work_hprev, "work_hprev", z.BTH);
        T* wx = work_x_of<T>(work_x, lengths, z);
        const index_t* L = lengths_of(lengths);
        const sc::Context ctx = context(stream);
        {
            py::gil_scoped_release nogil;
            sc::gru_backward<T>(ctx, z.B, z.T, z.D, z.H, px, ph0, pW, pU, reset_after, L, reverse, pg, phr, py, pdy,
                                pdhT, pdx, pdh0, pdW, pdU, pdb, wgx, wgr, ws, wrh, wd, wh, wx);
        }
    });
}

void gru_cell(index_t B, index_t D, index_t H, ptr_t x, ptr_t h, ptr_t W, ptr_t U, ptr_t b, bool reset_after,
              ptr_t h_out, ptr_t work_gates, ptr_t work_rec, ptr_t work_h, const std::string& dtype, ptr_t stream) {
    const Sizes z = sizes(B, 1, D, H, 3);
    by_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        const T *px = arr<const T>(x, "x", z.BTD), *ph = arr<const T>(h, "h", z.BH);
        const T *pW = arr<const T>(W, "W", z.DG), *pU = arr<const T>(U, "U", z.HG);
        const T* pb = arr<const T>(b, "b", reset_after ? 2 * z.G : z.G);
        T *pho = arr<T>(h_out, "h_out", z.BH), *wg = arr<T>(work_gates, "work_gates", z.BG);
        T *wr = arr<T>(work_rec, "work_rec", z.BG), *wh = arr<T>(work_h, "work_h", z.BH);
        const sc::Context ctx = context(stream);
        {
            py::gil_scoped_release nogil;
            sc::gru_cell<T>(ctx, z.B, z.D, z.H, px, ph, pW, pU, pb, reset_after, pho, wg, wr, wh);
        }
    });
}

// ---------------------------------------------------------------- RNN

void rnn_forward(index_t B, index_t T_, index_t D, index_t H, ptr_t x, ptr_t h0, ptr_t W, ptr_t U, ptr_t b,
                 ptr_t lengths, bool reverse, ptr_t y, ptr_t hT, ptr_t work_rec, const std::string& dtype,
                 ptr_t stream) {
    const Sizes z = sizes(B, T_, D, H, 1);
    by_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        const T *px = arr<const T>(x, "x", z.BTD), *ph0 = arr<const T>(h0, "h0", z.BH);
        const T *pW = arr<const T>(W, "W", z.DG), *pU = arr<const T>(U, "U", z.HG), *pb = arr<const T>(b, "b", z.H);
        T *py = arr<T>(y, "y", z.BTH), *phT = arr<T>(hT, "hT", z.BH), *wr = arr<T>(work_rec, "work_rec", z.BH);
        const index_t* L = lengths_of(lengths);
        const sc::Context ctx = context(stream);
        {
            py::gil_scoped_release nogil;
            sc::rnn_forward<T>(ctx, z.B, z.T, z.D, z.H, px, ph0, pW, pU, pb, L, reverse, py, phT, wr);
        }
    });
}

void rnn_backward(index_t B, index_t T_, index_t D, index_t H, ptr_t x, ptr_t h0, ptr_t W, ptr_t U, ptr_t lengths,
                  bool reverse, ptr_t y, ptr_t dy, ptr_t dhT, ptr_t dx, ptr_t dh0, ptr_t dW, ptr_t dU, ptr_t db,
                  ptr_t work_dgates, ptr_t work_step, ptr_t work_dh, ptr_t work_hprev, ptr_t work_x,
                  const std::string& dtype, ptr_t stream) {
    const Sizes z = sizes(B, T_, D, H, 1);
    by_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        const T *px = arr<const T>(x, "x", z.BTD), *ph0 = arr<const T>(h0, "h0", z.BH);
        const T *pW = arr<const T>(W, "W", z.DG), *pU = arr<const T>(U, "U", z.HG), *py = arr<const T>(y, "y", z.BTH);
        const T *pdy = opt<T>(dy, "dy"), *pdhT = opt<T>(dhT, "dhT");
        T *pdx = arr<T>(dx, "dx", z.BTD), *pdh0 = arr<T>(dh0, "dh0", z.BH), *pdW = arr<T>(dW, "dW", z.DG);
        T *pdU = arr<T>(dU, "dU", z.HG), *pdb = arr<T>(db, "db", z.H);
        T *wg = arr<T>(work_dgates, "work_dgates", z.BTH), *ws = arr<T>(work_step, "work_step", z.BH);
        T *wd = arr<T>(work_dh, "work_dh", z.BH), *wh = arr<T>(work_hprev, "work_hprev", z.BTH);
        T* wx = work_x_of<T>(work_x, lengths, z);
        const index_t* L = lengths_of(lengths);
        const sc::Context ctx = context(stream);
        {
            py::gil_scoped_release nogil;
            sc::rnn_backward<T>(ctx, z.B, z.T, z.D, z.H, px, ph0, pW, pU, L, reverse, py, pdy, pdhT, pdx, pdh0, pdW,
                                pdU, pdb, wg, ws, wd, wh, wx);
        }
    });
}

void rnn_cell(index_t B, index_t D, index_t H, ptr_t x, ptr_t h, ptr_t W, ptr_t U, ptr_t b, ptr_t h_out,
              ptr_t work_proj, ptr_t work_rec, const std::string& dtype, ptr_t stream) {
    const Sizes z = sizes(B, 1, D, H, 1);
    by_dtype(dtype, [&](auto tag) {
        using T = decltype(tag);
        const T *px = arr<const T>(x, "x", z.BTD), *ph = arr<const T>(h, "h", z.BH);
        const T *pW = arr<const T>(W, "W", z.DG), *pU = arr<const T>(U, "U", z.HG), *pb = arr<const T>(b, "b", z.H);
        T *pho = arr<T>(h_out, "h_out", z.BH), *wp = arr<T>(work_proj, "work_proj", z.BH);
        T* wr = arr<T>(work_rec, "work_rec", z.BH);
        const sc::Context ctx = context(stream);
        {
            py::gil_scoped_release nogil;
            sc::rnn_cell<T>(ctx, z.B, z.D, z.H, px, ph, pW, pU, pb, pho, wp, wr);
        }
    });
}

}  // namespace

void bind_recurrent(py::module_& m) {
    m.def("lstm_forward", &lstm_forward, py::arg("B"), py::arg("T"), py::arg("D"), py::arg("H"), py::arg("x"),
          py::arg("h0"), py::arg("c0"), py::arg("W"), py::arg("U"), py::arg("b"), py::arg("lengths"),
          py::arg("reverse"), py::arg("y"), py::arg("hT"), py::arg("cT"), py::arg("gates"), py::arg("c"),
          py::arg("work_rec"), py::arg("dtype"), py::arg("stream"),
          "LSTM over whole sequences (seqcore_cuda/recurrent.h); lengths 0 = none; work_rec [B,4H]");
    m.def("lstm_backward", &lstm_backward, py::arg("B"), py::arg("T"), py::arg("D"), py::arg("H"), py::arg("x"),
          py::arg("h0"), py::arg("c0"), py::arg("W"), py::arg("U"), py::arg("lengths"), py::arg("reverse"),
          py::arg("gates"), py::arg("c"), py::arg("y"), py::arg("dy"), py::arg("dhT"), py::arg("dcT"), py::arg("dx"),
          py::arg("dh0"), py::arg("dc0"), py::arg("dW"), py::arg("dU"), py::arg("db"), py::arg("work_dgates"),
          py::arg("work_step"), py::arg("work_dh"), py::arg("work_hprev"), py::arg("work_x"), py::arg("dtype"),
          py::arg("stream"),
          "Backprop through time for lstm_forward; dy, dhT, dcT 0 = zeros; workspaces [B,T,4H], [B,4H], [B,H], "
          "[B,T,H], [B,T,D] (work_x only with lengths)");
    m.def("lstm_cell", &lstm_cell, py::arg("B"), py::arg("D"), py::arg("H"), py::arg("x"), py::arg("h"), py::arg("c"),
          py::arg("W"), py::arg("U"), py::arg("b"), py::arg("h_out"), py::arg("c_out"), py::arg("work_gates"),
          py::arg("work_rec"), py::arg("dtype"), py::arg("stream"), "One LSTM step; workspaces [B,4H] x 2");
    m.def("gru_forward", &gru_forward, py::arg("B"), py::arg("T"), py::arg("D"), py::arg("H"), py::arg("x"),
          py::arg("h0"), py::arg("W"), py::arg("U"), py::arg("b"), py::arg("reset_after"), py::arg("lengths"),
          py::arg("reverse"), py::arg("y"), py::arg("hT"), py::arg("gates"), py::arg("hr"), py::arg("work_rec"),
          py::arg("work_rh"), py::arg("dtype"), py::arg("stream"),
          "GRU over whole sequences; hr [B,T,H] (reset_after; else 0); work_rec [B,3H]; work_rh [B,H] "
          "(reset_after=False; else 0)");
    m.def("gru_backward", &gru_backward, py::arg("B"), py::arg("T"), py::arg("D"), py::arg("H"), py::arg("x"),
          py::arg("h0"), py::arg("W"), py::arg("U"), py::arg("reset_after"), py::arg("lengths"), py::arg("reverse"),
          py::arg("gates"), py::arg("hr"), py::arg("y"), py::arg("dy"), py::arg("dhT"), py::arg("dx"), py::arg("dh0"),
          py::arg("dW"), py::arg("dU"), py::arg("db"), py::arg("work_dgx"), py::arg("work_dgr"), py::arg("work_step"),
          py::arg("work_drh"), py::arg("work_dh"), py::arg("work_hprev"), py::arg("work_x"), py::arg("dtype"),
          py::arg("stream"),
          "Backprop through time for gru_forward; workspaces [B,T,3H], [B,T,3H] (reset_after), [B,3H], "
          "[B,H] (reset_after=False), [B,H], [B,T,H], [B,T,D] (with lengths)");
    m.def("gru_cell", &gru_cell, py::arg("B"), py::arg("D"), py::arg("H"), py::arg("x"), py::arg("h"), py::arg("W"),
          py::arg("U"), py::arg("b"), py::arg("reset_after"), py::arg("h_out"), py::arg("work_gates"),
          py::arg("work_rec"), py::arg("work_h"), py::arg("dtype"), py::arg("stream"),
          "One GRU step; workspaces [B,3H], [B,3H], [B,H]");
    m.def("rnn_forward", &rnn_forward, py::arg("B"), py::arg("T"), py::arg("D"), py::arg("H"), py::arg("x"),
          py::arg("h0"), py::arg("W"), py::arg("U"), py::arg("b"), py::arg("lengths"), py::arg("reverse"), py::arg("y"),
          py::arg("hT"), py::arg("work_rec"), py::arg("dtype"), py::arg("stream"),
          "tanh RNN over whole sequences; work_rec [B,H]");
    m.def("rnn_backward", &rnn_backward, py::arg("B"), py::arg("T"), py::arg("D"), py::arg("H"), py::arg("x"),
          py::arg("h0"), py::arg("W"), py::arg("U"), py::arg("lengths"), py::arg("reverse"), py::arg("y"),
          py::arg("dy"), py::arg("dhT"), py::arg("dx"), py::arg("dh0"), py::arg("dW"), py::arg("dU"), py::arg("db"),
          py::arg("work_dgates"), py::arg("work_step"), py::arg("work_dh"), py::arg("work_hprev"), py::arg("work_x"),
          py::arg("dtype"), py::arg("stream"),
          "Backprop through time for rnn_forward; workspaces [B,T,H], [B,H], [B,H], [B,T,H], [B,T,D] (with lengths)");
    m.def("rnn_cell", &rnn_cell, py::arg("B"), py::arg("D"), py::arg("H"), py::arg("x"), py::arg("h"), py::arg("W"),
          py::arg("U"), py::arg("b"), py::arg("h_out"), py::arg("work_proj"), py::arg("work_rec"), py::arg("dtype"),
          py::arg("stream"), "One RNN step; workspaces [B,H] x 2");
}

}  // namespace seqcore_bind
