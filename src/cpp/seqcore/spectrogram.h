// Short-time power spectral density (the spectrogram of the trigger-word model's input).
#pragma once

#include "dims.h"

namespace seqcore {

// The real-to-complex transform behind the spectrogram plans lengths up to this (Eigen's kissfft
// keys its plans by an int holding twice the length).
constexpr index_t kSpectrogramMaxWindow = index_t(1) << 29;

// x: [B,L] samples, each row one clip; window: [W] the analysis window, 2 <= W <= L and
// W <= kSpectrogramMaxWindow; noverlap: samples neighbouring frames share, 0 <= noverlap < W;
// scale: the density factor 1 / (fs * sum(window^2)), applied to every bin (checked by the caller).
// out: [B,T,F] out, T = (L - noverlap) / (W - noverlap) frames (a last partial frame is dropped),
//   F = W/2 + 1 bins: out[b,t,f] = scale * |rfft(window * x[b, t*hop : t*hop + W])[f]|^2, doubled
//   for every f but DC and (even W) Nyquist, whose mirror images the one-sided spectrum leaves out.
// Computed in double for float and double x; NaN in a frame makes every bin of that frame NaN.  The B*T
// frames are shared out in blocks among `threads` std::threads, each with its own FFT plan (Eigen's
// plans cache scratch and are not safe to share); each frame's result does not depend on the split.
template <typename T>
void spectrogram(index_t B, index_t L, index_t W, index_t noverlap, const T* x, const double* window, double scale,
                 int threads, T* out);

}  // namespace seqcore
