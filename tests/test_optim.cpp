// SGD against PyTorch's update rule written out by hand, and the schedules.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/lr_schedule.h"
#include "engine/sgd.h"

using namespace taper;

TEST_CASE("sgd: momentum, weight decay, dampening and Nesterov follow torch.optim.SGD") {
  for (bool nesterov : {false, true}) {
    CAPTURE(nesterov);
    Tensor p = Tensor::from_vector({1.0f, -2.0f}, {2}).set_requires_grad(true);
    SgdHyper h{0.1f, 0.9f, 0.0f, 0.01f, nesterov};
    Sgd opt({p}, h);
    double ref_p[2] = {1.0, -2.0}, buf[2] = {0, 0};
    const double grads[3][2] = {{0.5, 0.25}, {-1.0, 2.0}, {0.0, 0.5}};
    for (int step = 0; step < 3; ++step) {
      p.set_grad(Tensor::from_vector({float(grads[step][0]), float(grads[step][1])}, {2}));
      opt.step();
      for (int i = 0; i < 2; ++i) {
        double d = grads[step][i] + 0.01 * ref_p[i];
        buf[i] = step == 0 ? d : 0.9 * buf[i] + d;
        d = nesterov ? d + 0.9 * buf[i] : buf[i];
        ref_p[i] -= 0.1 * d;
        CHECK(p.f32()[i] == doctest::Approx(ref_p[i]).epsilon(1e-6));
      }
    }
  }
}

TEST_CASE("sgd: parameters without a gradient are skipped; zero_grad clears") {
  Tensor a = Tensor::from_vector({1.0f}, {1}).set_requires_grad(true);
  Tensor b = Tensor::from_vector({1.0f}, {1}).set_requires_grad(true);
  Sgd opt({a, b}, SgdHyper{0.5f, 0.0f, 0.0f, 0.0f, false});
  a.set_grad(Tensor::from_vector({1.0f}, {1}));
  opt.step();
  CHECK(a.item() == 0.5f);
  CHECK(b.item() == 1.0f);
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
  CHECK_THROWS_AS(Sgd({Tensor::zeros({1})}, SgdHyper{}), std::invalid_argument);
}

TEST_CASE("lr schedules: step decay, cosine and linear warm-up") {
  LrSchedule s;
  s.kind = LrSchedule::Kind::Step;
  s.base_lr = 0.1;
  s.milestones = {30, 60};
  CHECK(s.lr(0) == doctest::Approx(0.1));
  CHECK(s.lr(29) == doctest::Approx(0.1));
  CHECK(s.lr(30) == doctest::Approx(0.01));
  CHECK(s.lr(75) == doctest::Approx(0.001));
  s.warmup_steps = 5;
  CHECK(s.lr(0) == doctest::Approx(0.02));
  CHECK(s.lr(4) == doctest::Approx(0.1));

  LrSchedule c;
  c.kind = lr_schedule_kind("cosine");
  c.base_lr = 1.0;
  c.total_steps = 110;
  c.warmup_steps = 10;
  c.min_lr = 0.0;
  CHECK(c.lr(10) == doctest::Approx(1.0));
  CHECK(c.lr(60) == doctest::Approx(0.5));
  CHECK(c.lr(110) == doctest::Approx(0.0));
  CHECK(c.lr(500) == doctest::Approx(0.0));
  CHECK_THROWS_WITH_AS(lr_schedule_kind("linear"), doctest::Contains("unknown kind 'linear'"), std::invalid_argument);
  s.milestones = {60, 30};
  CHECK_THROWS_AS(s.validate(), std::invalid_argument);
}
