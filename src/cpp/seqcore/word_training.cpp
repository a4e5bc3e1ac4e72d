#include "word_training.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

#include <Eigen/Core>

#include "threads.h"

namespace seqcore {

namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;

inline std::uint64_t lcg(std::uint64_t r) { return r * 25214903917ull + 11ull; }
inline std::uint64_t stream_start(std::uint64_t seed, index_t index) {
    return lcg(seed ^ ((static_cast<std::uint64_t>(index) + 1ull) * kGolden));
}
inline double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

template <typename T>
inline T dot(const T* a, const T* b, index_t E) {
    return Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(a, E)
        .dot(Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(b, E));
}

// Workers for `items` units of `work` words/triplets: at most `threads`, one per unit, and one per
// kMinWork of work (starting a thread costs more than a small call; small calls are thus serial and
// repeatable whatever `threads` says).
constexpr index_t kMinWork = 8192;
int team_size(int threads, index_t items, index_t work) {
    return static_cast<int>(std::max<index_t>(1, std::min<index_t>({threads, items, work / kMinWork})));
}

// The first sentence of each of `parts` slices of about equal words: bounds[0] = 0 .. bounds[parts] = S.
std::vector<index_t> split_sentences(index_t S, const index_t* offsets, int parts) {
    std::vector<index_t> bounds(static_cast<size_t>(parts) + 1, S);
    bounds[0] = 0;
    const index_t N = offsets[S];
    for (int p = 1; p < parts; ++p) {
        const index_t target = N / parts * p;
        bounds[p] = std::lower_bound(offsets, offsets + S, target) - offsets;
        bounds[p] = std::max(bounds[p], bounds[p - 1]);
    }
    return bounds;
}

}  // namespace

template <typename T>
void word2vec_sgns_train(index_t V, index_t E, index_t S, const index_t* ids, const index_t* offsets, T* W_in,
                         T* W_out, index_t Tn, const index_t* neg_table, const double* keep_prob, index_t window,
                         index_t negative, double alpha, double min_alpha, index_t words_done, index_t total_words,
                         std::uint64_t seed, int threads, double* loss, index_t* terms) {
    (void)V;
    const int nt = team_size(threads, S, offsets[S]);
    index_t longest = 1;
    for (index_t s = 0; s < S; ++s) longest = std::max(longest, offsets[s + 1] - offsets[s]);
    // every buffer on the calling thread (a bad_alloc becomes a MemoryError)
    std::vector<std::vector<index_t>> kept(static_cast<size_t>(nt), std::vector<index_t>(static_cast<size_t>(longest)));
    std::vector<std::vector<T>> neu(static_cast<size_t>(nt), std::vector<T>(static_cast<size_t>(E)));
    std::vector<double> losses(static_cast<size_t>(nt), 0.0);
    std::vector<index_t> counts(static_cast<size_t>(nt), 0);
    const std::vector<index_t> bounds = split_sentences(S, offsets, nt);
    const std::uint64_t win = static_cast<std::uint64_t>(window), tn = static_cast<std::uint64_t>(Tn);

    auto work = [&](int t) {
        index_t* kept_ = kept[t].data();
        T* neu1e = neu[t].data();
        double lsum = 0.0, prod = 1.0;
        index_t nterms = 0;
        for (index_t s = bounds[t]; s < bounds[t + 1]; ++s) {
            const index_t a = offsets[s], b = offsets[s + 1];
            std::uint64_t r = stream_start(seed, s);
            // summed in double: words_done may be any count up to INT64_MAX (the backends all do the same)
            const double seen = static_cast<double>(words_done) + static_cast<double>(a - offsets[0]);
            const double lr = std::max(min_alpha, alpha - (alpha - min_alpha) * seen / static_cast<double>(total_words));
            index_t n = 0;
            for (index_t p = a; p < b; ++p) {
                r = lcg(r);
                if (keep_prob[ids[p]] >= static_cast<double>((r >> 16) & 0xFFFFull) / 65536.0) kept_[n++] = ids[p];
            }
            for (index_t c = 0; c < n; ++c) {
                const index_t centre = kept_[c];
                r = lcg(r);
                const index_t reach = window - static_cast<index_t>((r >> 16) % win);
                const index_t j_end = std::min(n, c + reach + 1);
                for (index_t j = std::max<index_t>(0, c - reach); j < j_end; ++j) {
                    if (j == c) continue;
                    T* l1 = W_in + kept_[j] * E;
                    std::fill(neu1e, neu1e + E, T(0));
                    for (index_t d = 0; d <= negative; ++d) {
                        index_t target;
                        double label;
                        if (d == 0) {
                            target = centre;
                            label = 1.0;
                        } else {
                            r = lcg(r);
                            target = neg_table[(r >> 16) % tn];
                            label = 0.0;
                            if (target == centre) continue;
                        }
                        T* row = W_out + target * E;
                        const double f = static_cast<double>(dot(l1, row, E));
                        double sig;
                        if (f > 6.0 || f < -6.0) {
                            sig = f > 0 ? 1.0 : 0.0;
                            lsum += label > 0 ? softplus(-f) : softplus(f);
                        } else {
                            // The loss -log p, p = sigmoid(f) or 1 - sigmoid(f) = e * sigmoid(f), is kept as a
                            // running product of the p (each >= sigmoid(-6) = 0.0025, so it cannot reach 0 at
                            // once), taken to the log only when it gets small: one exp per term, no log.
                            const double e = std::exp(-f);
                            sig = 1.0 / (1.0 + e);
                            prod *= label > 0 ? sig : e * sig;
                            if (prod < 1e-250) {
                                lsum -= std::log(prod);
                                prod = 1.0;
                            }
                        }
                        ++nterms;
                        const T g = static_cast<T>((label - sig) * lr);
                        for (index_t e = 0; e < E; ++e) neu1e[e] += g * row[e];
                        for (index_t e = 0; e < E; ++e) row[e] += g * l1[e];
                    }
                    for (index_t e = 0; e < E; ++e) l1[e] += neu1e[e];
                }
            }
        }
        losses[t] = lsum - std::log(prod);
        counts[t] = nterms;
    };
    run_on_threads(nt, work);
    *loss = 0.0;
    *terms = 0;
    for (int t = 0; t < nt; ++t) {
        *loss += losses[t];
        *terms += counts[t];
    }
}

void glove_cooccurrence(index_t V, index_t S, const index_t* ids, const index_t* offsets, index_t window,
                        bool symmetric, std::vector<index_t>& keys, std::vector<double>& values) {
    std::unordered_map<index_t, double> counts;
    counts.reserve(static_cast<size_t>(std::min<index_t>(offsets[S] * 4, index_t(1) << 24)));
    for (index_t s = 0; s < S; ++s) {
        const index_t a = offsets[s], b = offsets[s + 1];
        for (index_t i = a; i < b; ++i)
            for (index_t d = 1; d <= window && i - d >= a; ++d) {
                const double w = 1.0 / static_cast<double>(d);
                counts[ids[i] * V + ids[i - d]] += w;
                if (symmetric) counts[ids[i - d] * V + ids[i]] += w;
            }
    }
    keys.clear();
    keys.reserve(counts.size());
    for (const auto& kv : counts) keys.push_back(kv.first);
    std::sort(keys.begin(), keys.end());
    values.resize(keys.size());
    for (size_t k = 0; k < keys.size(); ++k) values[k] = counts[keys[k]];
}

template <typename T>
void glove_train(index_t V, index_t E, index_t n, const index_t* rows, const index_t* cols, const double* values,
                 T* W, T* C, T* bw, T* bc, T* gW, T* gC, T* gbw, T* gbc, double x_max, double alpha, double lr,
                 index_t epochs, std::uint64_t seed, int threads, double* costs) {
    (void)V;
    const int nt = team_size(threads, n, n);
    std::vector<index_t> order(static_cast<size_t>(n));
    std::vector<double> partial(static_cast<size_t>(nt));
    for (index_t ep = 0; ep < epochs; ++ep) {
        std::uint64_t r = stream_start(seed, ep);
        for (index_t i = 0; i < n; ++i) order[i] = i;
        for (index_t i = n - 1; i > 0; --i) {
            r = lcg(r);
            const index_t j = static_cast<index_t>((r >> 16) % static_cast<std::uint64_t>(i + 1));
            std::swap(order[i], order[j]);
        }
        auto work = [&](int t) {
            const index_t m0 = n / nt * t, m1 = t + 1 == nt ? n : n / nt * (t + 1);
            double total = 0.0;
            for (index_t m = m0; m < m1; ++m) {
                const index_t k = order[m], i = rows[k], j = cols[k];
                const double x = values[k];
                T *wi = W + i * E, *cj = C + j * E, *gwi = gW + i * E, *gcj = gC + j * E;
                const double diff = static_cast<double>(dot(wi, cj, E)) + static_cast<double>(bw[i]) +
                                    static_cast<double>(bc[j]) - std::log(x);
                double fdiff = x > x_max ? diff : std::pow(x / x_max, alpha) * diff;
                total += 0.5 * fdiff * diff;
                fdiff *= lr;
                const T g = static_cast<T>(fdiff);
                for (index_t e = 0; e < E; ++e) {
                    const T t1 = g * cj[e], t2 = g * wi[e];
                    wi[e] -= t1 / std::sqrt(gwi[e]);
                    cj[e] -= t2 / std::sqrt(gcj[e]);
                    gwi[e] += t1 * t1;
                    gcj[e] += t2 * t2;
                }
                bw[i] -= static_cast<T>(fdiff / std::sqrt(static_cast<double>(gbw[i])));
                bc[j] -= static_cast<T>(fdiff / std::sqrt(static_cast<double>(gbc[j])));
                gbw[i] += static_cast<T>(fdiff * fdiff);
                gbc[j] += static_cast<T>(fdiff * fdiff);
            }
            partial[t] = total;
        };
        run_on_threads(nt, work);
        double total = 0.0;
        for (int t = 0; t < nt; ++t) total += partial[t];
        costs[ep] = total / static_cast<double>(std::max<index_t>(n, 1));
    }
}

#define SEQCORE_INSTANTIATE(T)                                                                                     \
    template void word2vec_sgns_train<T>(index_t, index_t, index_t, const index_t*, const index_t*, T*, T*, index_t, \
                                         const index_t*, const double*, index_t, index_t, double, double, index_t,   \
                                         index_t, std::uint64_t, int, double*, index_t*);                            \
    template void glove_train<T>(index_t, index_t, index_t, const index_t*, const index_t*, const double*, T*, T*,   \
                                 T*, T*, T*, T*, T*, T*, double, double, double, index_t, std::uint64_t, int, double*);
SEQCORE_INSTANTIATE(float)
SEQCORE_INSTANTIATE(double)
#undef SEQCORE_INSTANTIATE

}  // namespace seqcore
