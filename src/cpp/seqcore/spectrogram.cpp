#include "spectrogram.h"

#include <algorithm>
#include <atomic>
#include <complex>
#include <vector>

#include <unsupported/Eigen/FFT>

#include "threads.h"

namespace seqcore {

namespace {

// Frames a thread takes at a time: small enough that a thread whose core is busy elsewhere (a
// shared machine) leaves the rest to the others, large enough that the shared counter costs nothing.
constexpr index_t kFramesPerBlock = 64;
// Below this many windowed samples in all, starting a thread costs more than it saves.
constexpr index_t kParallelSamples = index_t(1) << 16;

// One worker's transform and buffers.  HalfSpectrum: the transform writes bins 0..W/2 only
// (kissfft's real-input path, a half-length complex FFT when W is a multiple of 4).
struct Worker {
    Eigen::FFT<double> fft;
    std::vector<double> frame;
    std::vector<std::complex<double>> bins;

    // A cache line to spare at the end of each buffer: another worker's buffers, allocated next, never share a
    // line with the part this one writes for every frame.
    explicit Worker(index_t W)
        : frame(static_cast<size_t>(W + 8), 0.0), bins(static_cast<size_t>(W / 2 + 1 + 4)) {
        fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
        // The first transform builds the plan, twiddles and scratch: done here, on the calling thread, so an
        // allocation failure is an exception there and the workers allocate nothing.
        fft.fwd(bins.data(), frame.data(), W);
    }
};

// |z|^2 as re^2 + im^2: std::norm squares std::abs (a hypot) unless built with -ffast-math.
inline double power(const std::complex<double>& z) { return z.real() * z.real() + z.imag() * z.imag(); }

template <typename T>
void one_frame(Worker& w, const T* src, index_t W, const double* window, double scale, T* dst) {
    double* frame = w.frame.data();
    for (index_t i = 0; i < W; ++i) frame[i] = window[i] * static_cast<double>(src[i]);
    w.fft.fwd(w.bins.data(), frame, W);
    const std::complex<double>* bins = w.bins.data();
    const index_t F = W / 2 + 1;
    // Bins without a mirror image in the one-sided spectrum: DC, and Nyquist when W is even.
    const index_t last_doubled = W % 2 == 0 ? F - 1 : F;
    dst[0] = static_cast<T>(power(bins[0]) * scale);
    for (index_t f = 1; f < last_doubled; ++f) dst[f] = static_cast<T>(power(bins[f]) * scale * 2.0);
    if (last_doubled < F) dst[F - 1] = static_cast<T>(power(bins[F - 1]) * scale);
}

}  // namespace

template <typename T>
void spectrogram(index_t B, index_t L, index_t W, index_t noverlap, const T* x, const double* window, double scale,
                 int threads, T* out) {
    const index_t hop = W - noverlap;
    const index_t frames = (L - noverlap) / hop;
    const index_t F = W / 2 + 1;
    const index_t total = B * frames;
    if (total == 0) return;
    const index_t blocks = (total + kFramesPerBlock - 1) / kFramesPerBlock;
    index_t nt = std::max<index_t>(1, std::min<index_t>(threads, blocks));
    if (total < kParallelSamples / W) nt = 1;

    std::vector<Worker> workers;
    workers.reserve(static_cast<size_t>(nt));
    for (index_t t = 0; t < nt; ++t) workers.emplace_back(W);

    std::atomic<index_t> next{0};
    auto work = [&](int t) {
        Worker& w = workers[static_cast<size_t>(t)];
        for (;;) {
            const index_t block = next.fetch_add(1, std::memory_order_relaxed);
            if (block >= blocks) return;
            const index_t end = std::min(total, (block + 1) * kFramesPerBlock);
            for (index_t n = block * kFramesPerBlock; n < end; ++n) {
                const index_t b = n / frames, f = n % frames;
                one_frame(w, x + b * L + f * hop, W, window, scale, out + n * F);
            }
        }
    };
    if (nt == 1) {
        work(0);
        return;
    }
    run_on_threads(static_cast<int>(nt), work);
}

#define SEQCORE_INSTANTIATE(T) \
    template void spectrogram<T>(index_t, index_t, index_t, index_t, const T*, const double*, double, int, T*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
