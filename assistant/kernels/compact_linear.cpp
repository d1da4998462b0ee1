#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <immintrin.h>

#ifndef GRAIN
#define GRAIN 16
#endif
static inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 s = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, s);
  s = _mm_add_ss(s, sh);
  return _mm_cvtss_f32(s);
}

template <int TM>
static void q41_rows(const float* x, int64_t K, const uint8_t* qs, const float* d, const float* m,
                     float* y, int64_t N, int64_t n0, int64_t n1) {
  const int64_t nb = K / 32;
  const __m128i mask = _mm_set1_epi8(0x0F);
  for (int64_t n = n0; n < n1; ++n) {
    __m256 acc[TM];
    for (int i = 0; i < TM; ++i) acc[i] = _mm256_setzero_ps();
    const uint8_t* q = qs + n * (K / 2);
    const float* dn = d + n * nb;
    const float* mn = m + n * nb;
    for (int64_t b = 0; b < nb; ++b) {
      __m128i v = _mm_loadu_si128((const __m128i*)(q + b * 16));
      __m128i lo = _mm_and_si128(v, mask);
      __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), mask);
      __m256 db = _mm256_set1_ps(dn[b]), mb = _mm256_set1_ps(mn[b]);
      __m256 w0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo)), db, mb);
      __m256 w1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8))), db, mb);
      __m256 w2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi)), db, mb);
      __m256 w3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))), db, mb);
      for (int i = 0; i < TM; ++i) {
        const float* xb = x + i * K + b * 32;
        acc[i] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xb), acc[i]);
        acc[i] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xb + 8), acc[i]);
        acc[i] = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xb + 16), acc[i]);
        acc[i] = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xb + 24), acc[i]);
      }
    }
    for (int i = 0; i < TM; ++i) y[i * N + n] = hsum(acc[i]);
  }
}


template <int TM>
static void q80_rows(const float* x, int64_t K, const int8_t* qs, const float* d,
                     float* y, int64_t N, int64_t n0, int64_t n1) {
  const int64_t nb = K / 32;
  for (int64_t n = n0; n < n1; ++n) {
    __m256 acc[TM];
    for (int i = 0; i < TM; ++i) acc[i] = _mm256_setzero_ps();
    const int8_t* q = qs + n * K;
    const float* dn = d + n * nb;
    for (int64_t b = 0; b < nb; ++b) {
      const int8_t* qb = q + b * 32;
      __m256 db = _mm256_set1_ps(dn[b]);
      __m256 w[4];
      for (int j = 0; j < 4; ++j)
        w[j] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(qb + 8 * j)))), db);
      for (int i = 0; i < TM; ++i) {
        const float* xb = x + i * K + b * 32;
        for (int j = 0; j < 4; ++j) acc[i] = _mm256_fmadd_ps(w[j], _mm256_loadu_ps(xb + 8 * j), acc[i]);
      }
    }
    for (int i = 0; i < TM; ++i) y[i * N + n] = hsum(acc[i]);
  }
}

at::Tensor q41_linear(at::Tensor x, at::Tensor qs, at::Tensor d, at::Tensor m) {
  const int64_t M = x.size(0), K = x.size(1), N = qs.size(0);
  auto y = at::empty({M, N}, x.options());
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  const uint8_t* qp = qs.data_ptr<uint8_t>();
  const float* dp = d.data_ptr<float>();
  const float* mp = m.data_ptr<float>();
  at::parallel_for(0, N, GRAIN, [&](int64_t n0, int64_t n1) {
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) q41_rows<4>(xp + i * K, K, qp, dp, mp, yp + i * N, N, n0, n1);
    switch (M - i) {
      case 3: q41_rows<3>(xp + i * K, K, qp, dp, mp, yp + i * N, N, n0, n1); break;
      case 2: q41_rows<2>(xp + i * K, K, qp, dp, mp, yp + i * N, N, n0, n1); break;
      case 1: q41_rows<1>(xp + i * K, K, qp, dp, mp, yp + i * N, N, n0, n1); break;
    }
  });
  return y;
}

at::Tensor q80_linear(at::Tensor x, at::Tensor qs, at::Tensor d) {
  const int64_t M = x.size(0), K = x.size(1), N = qs.size(0);
  auto y = at::empty({M, N}, x.options());
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  const int8_t* qp = qs.data_ptr<int8_t>();
  const float* dp = d.data_ptr<float>();
  at::parallel_for(0, N, GRAIN, [&](int64_t n0, int64_t n1) {
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) q80_rows<4>(xp + i * K, K, qp, dp, yp + i * N, N, n0, n1);
    switch (M - i) {
      case 3: q80_rows<3>(xp + i * K, K, qp, dp, yp + i * N, N, n0, n1); break;
      case 2: q80_rows<2>(xp + i * K, K, qp, dp, yp + i * N, N, n0, n1); break;
      case 1: q80_rows<1>(xp + i * K, K, qp, dp, yp + i * N, N, n0, n1); break;
    }
  });
  return y;
}

TORCH_LIBRARY(deskmate, m) {
  m.def("q41_linear(Tensor x, Tensor codes, Tensor d, Tensor m) -> Tensor", &q41_linear);
  m.def("q80_linear(Tensor x, Tensor codes, Tensor d) -> Tensor", &q80_linear);
}
