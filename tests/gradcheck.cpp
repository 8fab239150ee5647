#include "tests/gradcheck.h"

#include <cmath>
#include <sstream>

#include "engine/autograd.h"
#include "engine/rng.h"

namespace taper::testing {

namespace {
double dot(const Tensor& a, const Tensor& b) {
  const float *pa = a.f32(), *pb = b.f32();
  double s = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) s += static_cast<double>(pa[i]) * pb[i];
  return s;
}
}  // namespace

std::string gradcheck(const TensorFn& f, std::vector<Tensor> inputs, GradcheckOptions o) {
  for (Tensor& t : inputs) {
    if (t.dtype() == DType::F32) t.set_requires_grad(true);
  }
  Tensor out = f(inputs);
  Tensor cotangent = randn(out.shape(), 1234);
  out.backward(cotangent);
  NoGradGuard no_grad;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (x.dtype() != DType::F32) continue;
    Tensor analytic = x.grad();
    if (!analytic.defined()) return "input " + std::to_string(k) + " received no gradient";
    const int64_t n = x.numel(), step = std::max<int64_t>(1, n / o.max_elements);
    for (int64_t i = 0; i < n; i += step) {
      float* p = x.f32() + i;
      const float saved = *p;
      *p = saved + o.eps;
      const double plus = dot(cotangent, f(inputs));
      *p = saved - o.eps;
      const double minus = dot(cotangent, f(inputs));
      *p = saved;
      const double numeric = (plus - minus) / (2.0 * o.eps);
      const double got = analytic.f32()[i];
      if (!(std::fabs(got - numeric) <= o.atol + o.rtol * std::fabs(numeric))) {
        std::ostringstream msg;
        msg << "input " << k << " element " << i << ": analytic " << got << " vs numeric " << numeric;
        return msg.str();
      }
    }
  }
  return "";
}

Tensor randn(const Shape& shape, uint64_t seed, float stddev) {
  Tensor t = Tensor::empty(shape);
  Generator gen(seed);
  gen.normal(t, 0.0f, stddev);
  return t;
}

Tensor distinct(const Shape& shape, uint64_t seed, float spacing) {
  Tensor t = Tensor::empty(shape);
  const int64_t n = t.numel();
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  Generator gen(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[gen.below(i + 1)]);
  // Centre the ramp and skip zero so that no value sits on relu's kink.
  for (int64_t i = 0; i < n; ++i) {
    const float v = (static_cast<float>(order[i]) - static_cast<float>(n) / 2.0f + 0.25f) * spacing;
    t.f32()[i] = v;
  }
  return t;
}

}  // namespace taper::testing
