#include <ATen/ATen.h>
#include <torch/library.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

// A small pool of helper threads for the decode-step matmuls. OpenMP's workers, used from a
// thread other than the one that created them, sleep between the many short parallel ops of a
// decode step once a process has more OpenMP threads than cores; these helpers spin for a
// short while after each job (the next matmul comes within microseconds) and then sleep.
class Pool {
 public:
  // Run fn(part, parts) for part in [0, parts) on up to `parts` threads; the caller takes part 0.
  // Another caller running a job meanwhile gets its job run on its own thread.
  void run(int parts, const std::function<void(int, int)>& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (parts <= 1 || !busy.owns_lock()) {
      fn(0, 1);
      return;
    }
    grow(parts - 1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &fn;
      parts_ = parts;
      pending_.store(parts - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    fn(0, parts);
    while (pending_.load(std::memory_order_acquire) != 0) _mm_pause();
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void grow(int helpers) {
    while ((int)threads_.size() < helpers) {
      int index = (int)threads_.size() + 1;
      uint64_t seen = generation_.load(std::memory_order_acquire);  // before the job is published
      threads_.emplace_back([this, index, seen] { loop(index, seen); });
    }
  }

  void loop(int index, uint64_t seen) {
    for (;;) {
      auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      while (generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < spin_until)
        for (int i = 0; i < 64; ++i) _mm_pause();
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stop_) return;
      if (index < parts_) {
        (*job_)(index, parts_);
        pending_.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  std::mutex busy_, mu_;
  std::condition_variable wake_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int, int)>* job_ = nullptr;
  int parts_ = 1;
  bool stop_ = false;
};

static Pool& pool() {
  static Pool instance;
  return instance;
}

// Split the N output columns into `parts` runs of whole 8-column groups.
static inline void split(int64_t N, int part, int parts, int64_t& n0, int64_t& n1) {
  const int64_t groups = (N + 7) / 8;
  n0 = std::min(N, groups * part / parts * 8);
  n1 = std::min(N, groups * (part + 1) / parts * 8);
}
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

at::Tensor q41_linear(at::Tensor x, at::Tensor qs, at::Tensor d, at::Tensor m, int64_t threads) {
  const int64_t M = x.size(0), K = x.size(1), N = qs.size(0);
  auto y = at::empty({M, N}, x.options());
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  const uint8_t* qp = qs.data_ptr<uint8_t>();
  const float* dp = d.data_ptr<float>();
  const float* mp = m.data_ptr<float>();
  pool().run((int)threads, [&](int part, int parts) {
    int64_t n0, n1;
    split(N, part, parts, n0, n1);
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

at::Tensor q80_linear(at::Tensor x, at::Tensor qs, at::Tensor d, int64_t threads) {
  const int64_t M = x.size(0), K = x.size(1), N = qs.size(0);
  auto y = at::empty({M, N}, x.options());
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  const int8_t* qp = qs.data_ptr<int8_t>();
  const float* dp = d.data_ptr<float>();
  pool().run((int)threads, [&](int part, int parts) {
    int64_t n0, n1;
    split(N, part, parts, n0, n1);
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

// exp(x) for 8 floats (Cephes polynomial, as in avx_mathfun); x <= 0 here.
static inline __m256 exp256(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.3365447505f));
  __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
  fx = _mm256_floor_ps(fx);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500E-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, one));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(0x7f)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// Attention of T query rows (the last T positions) over S cached keys, causal, for one batch.
// q: [1, H, T, D]; k, v: [1, KVH, S, D] with unit stride in D (views of a KV cache are fine).
// Returns [1, T, H, D]. The keys are split among `threads` parts; each part keeps a partial
// softmax (max, sum, weighted values) per query row and head, merged at the end.
at::Tensor decode_attention(at::Tensor q, at::Tensor k, at::Tensor v, double scale, int64_t threads) {
  TORCH_CHECK(q.dim() == 4 && q.size(0) == 1 && q.scalar_type() == at::kFloat, "decode_attention: q must be [1, H, T, D] float32");
  q = q.contiguous();
  if (k.stride(3) != 1) k = k.contiguous();
  if (v.stride(3) != 1) v = v.contiguous();
  const int64_t H = q.size(1), T = q.size(2), D = q.size(3), KVH = k.size(1), S = k.size(2);
  TORCH_CHECK(D % 8 == 0 && H % KVH == 0 && S >= T, "decode_attention: unsupported shapes");
  const int64_t G = H / KVH, R = G * T;  // query rows per KV head
  const int parts = (int)std::max<int64_t>(1, std::min<int64_t>(threads, S / 64));
  std::vector<float> part_max(parts * H * T), part_sum(parts * H * T), part_acc(parts * H * T * D);
  const float* qp = q.data_ptr<float>();
  const float* kp = k.data_ptr<float>();
  const float* vp = v.data_ptr<float>();
  const int64_t ks = k.stride(2), kh = k.stride(1), vs = v.stride(2), vh = v.stride(1);
  const float sc = (float)scale;
  pool().run(parts, [&](int part, int nparts) {
    const int64_t s0 = S * part / nparts, s1 = S * (part + 1) / nparts, len = s1 - s0;
    std::vector<float> scores(R * len);
    for (int64_t g = 0; g < KVH; ++g) {
      const float* kg = kp + g * kh;
      const float* vg = vp + g * vh;
      // scores[r][s] = q_r . k_s * scale, rows r = (head h in group, row t)
      for (int64_t s = s0; s < s1; ++s) {
        const float* ks_ = kg + s * ks;
        for (int64_t r = 0; r < R; ++r) {
          const float* qr = qp + ((g * G + r / T) * T + r % T) * D;
          __m256 acc = _mm256_setzero_ps();
          for (int64_t j = 0; j < D; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(qr + j), _mm256_loadu_ps(ks_ + j), acc);
          scores[r * len + (s - s0)] = hsum(acc) * sc;
        }
      }
      for (int64_t r = 0; r < R; ++r) {
        const int64_t h = g * G + r / T, t = r % T;
        const int64_t end = std::min(s1, S - T + t + 1);  // causal: row t sees keys up to S - T + t
        const int64_t n = std::max<int64_t>(0, end - s0);
        float* row = scores.data() + r * len;
        const int64_t slot = (part * H + h) * T + t;
        float* acc = part_acc.data() + slot * D;
        for (int64_t j = 0; j < D; ++j) acc[j] = 0.f;
        if (n == 0) {
          part_max[slot] = -INFINITY;
          part_sum[slot] = 0.f;
          continue;
        }
        float mx = -INFINITY;
        for (int64_t i = 0; i < n; ++i) mx = std::max(mx, row[i]);
        __m256 vmx = _mm256_set1_ps(mx), vsum = _mm256_setzero_ps();
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
          __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(row + i), vmx));
          _mm256_storeu_ps(row + i, e);
          vsum = _mm256_add_ps(vsum, e);
        }
        float sum = hsum(vsum);
        for (; i < n; ++i) {
          row[i] = std::exp(row[i] - mx);
          sum += row[i];
        }
        part_max[slot] = mx;
        part_sum[slot] = sum;
      }
      // acc[r] += p[r][s] * v_s
      for (int64_t s = s0; s < s1; ++s) {
        const float* vs_ = vg + s * vs;
        for (int64_t r = 0; r < R; ++r) {
          const int64_t h = g * G + r / T, t = r % T;
          if (s > S - T + t) continue;
          const __m256 p = _mm256_set1_ps(scores[r * len + (s - s0)]);
          float* acc = part_acc.data() + ((part * H + h) * T + t) * D;
          for (int64_t j = 0; j < D; j += 8)
            _mm256_storeu_ps(acc + j, _mm256_fmadd_ps(p, _mm256_loadu_ps(vs_ + j), _mm256_loadu_ps(acc + j)));
        }
      }
    }
  });
  auto out = at::empty({1, T, H, D}, q.options());
  float* op = out.data_ptr<float>();
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t t = 0; t < T; ++t) {
      float mx = -INFINITY;
      for (int p = 0; p < parts; ++p) mx = std::max(mx, part_max[(p * H + h) * T + t]);
      float total = 0.f;
      float* o = op + (t * H + h) * D;
      for (int64_t j = 0; j < D; ++j) o[j] = 0.f;
      for (int p = 0; p < parts; ++p) {
        const int64_t slot = (p * H + h) * T + t;
        if (part_sum[slot] == 0.f) continue;
        const float w = std::exp(part_max[slot] - mx);
        total += w * part_sum[slot];
        const float* a = part_acc.data() + slot * D;
        for (int64_t j = 0; j < D; ++j) o[j] += w * a[j];
      }
      for (int64_t j = 0; j < D; ++j) o[j] /= total;
    }
  }
  return out;
}

static inline float dot(const float* a, const float* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), acc);
  float sum = hsum(acc);
  for (; j < n; ++j) sum += a[j] * b[j];
  return sum;
}

// y += (x @ a^T) @ b^T for a LoRA update with a: [r, K] and b: [N, r] (scaling folded in):
// a few rows of x, so two plain loops of dot products beat two BLAS calls.
static void add_lora(at::Tensor& y, const at::Tensor& x, const at::Tensor& a, const at::Tensor& b) {
  const int64_t M = x.size(0), K = x.size(1), r = a.size(0), N = b.size(0);
  std::vector<float> t(r);
  const float *xp = x.data_ptr<float>(), *ap = a.data_ptr<float>(), *bp = b.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < r; ++j) t[j] = dot(xp + i * K, ap + j * K, K);
    for (int64_t n = 0; n < N; ++n) yp[i * N + n] += dot(t.data(), bp + n * r, r);
  }
}

// One projection of a decoder layer: codes with m (Q4_1) or without (Q8_0), plus an optional
// unmerged LoRA update (lora_a [r, K], lora_b [N, r] scaled; empty tensors when absent).
static at::Tensor project(const at::Tensor& x, const at::Tensor& codes, const at::Tensor& d, const at::Tensor& m,
                          const at::Tensor& lora_a, const at::Tensor& lora_b, int64_t threads) {
  at::Tensor y = m.numel() ? q41_linear(x, codes, d, m, threads) : q80_linear(x, codes, d, threads);
  if (lora_a.numel()) add_lora(y, x, lora_a, lora_b);
  return y;
}

static at::Tensor rms_norm(const at::Tensor& h, const at::Tensor& weight, double eps) {
  // As transformers' LlamaRMSNorm in float32: the same ATen ops in the same order.
  at::Tensor variance = h.pow(2).mean(-1, true);
  return weight * (h * at::rsqrt(variance + eps));
}

static at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  // x * cos + rotate_half(x) * sin, as transformers' apply_rotary_pos_emb; x [heads, T, D].
  const int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

// A whole Llama decoder layer for a short batch-1 input over a KV cache, the step transformers
// runs op by op from Python. h: [T, C]; projections in the order q, k, v, o, gate, up, down;
// cos, sin: [T, D]; k_room, v_room: [1, KVH, capacity, D], written at [start, start + T).
at::Tensor decode_layer(at::Tensor h, at::Tensor input_norm, at::Tensor post_norm, double eps,
                        std::vector<at::Tensor> codes, std::vector<at::Tensor> d, std::vector<at::Tensor> m,
                        std::vector<at::Tensor> lora_a, std::vector<at::Tensor> lora_b,
                        at::Tensor cos, at::Tensor sin, at::Tensor k_room, at::Tensor v_room, int64_t start,
                        int64_t heads, int64_t kv_heads, double scale, int64_t threads) {
  TORCH_CHECK(codes.size() == 7 && d.size() == 7 && m.size() == 7 && lora_a.size() == 7 && lora_b.size() == 7,
              "decode_layer: seven projections expected");
  const int64_t T = h.size(0), D = cos.size(-1);
  at::Tensor x = rms_norm(h, input_norm, eps);
  auto proj = [&](int i, const at::Tensor& in) { return project(in.contiguous(), codes[i], d[i], m[i], lora_a[i], lora_b[i], threads); };
  at::Tensor q = rotate(proj(0, x).view({T, heads, D}).transpose(0, 1), cos, sin);      // [H, T, D]
  at::Tensor k = rotate(proj(1, x).view({T, kv_heads, D}).transpose(0, 1), cos, sin);   // [KVH, T, D]
  at::Tensor v = proj(2, x).view({T, kv_heads, D}).transpose(0, 1);
  k_room[0].narrow(1, start, T).copy_(k);
  v_room[0].narrow(1, start, T).copy_(v);
  at::Tensor keys = k_room.narrow(2, 0, start + T), values = v_room.narrow(2, 0, start + T);
  at::Tensor attended = decode_attention(q.unsqueeze(0), keys, values, scale, threads).view({T, heads * D});
  h = h + proj(3, attended);
  x = rms_norm(h, post_norm, eps);
  return h + proj(6, at::silu(proj(4, x)) * proj(5, x));
}

TORCH_LIBRARY(deskmate, m) {
  m.def("q41_linear(Tensor x, Tensor codes, Tensor d, Tensor m, int threads) -> Tensor", &q41_linear);
  m.def("q80_linear(Tensor x, Tensor codes, Tensor d, int threads) -> Tensor", &q80_linear);
  m.def("decode_attention(Tensor q, Tensor k, Tensor v, float scale, int threads) -> Tensor", &decode_attention);
  m.def("decode_layer(Tensor h, Tensor input_norm, Tensor post_norm, float eps, Tensor[] codes, Tensor[] d, "
        "Tensor[] m, Tensor[] lora_a, Tensor[] lora_b, Tensor cos, Tensor sin, Tensor(a!) k_room, "
        "Tensor(b!) v_room, int start, int heads, int kv_heads, float scale, int threads) -> Tensor", &decode_layer);
}
