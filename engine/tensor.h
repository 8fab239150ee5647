// Tensor: a shaped, typed view of reference-counted storage on one device,
// plus the autograd bookkeeping (requires_grad, grad, grad_fn).
//
// Layout is always contiguous row-major (NCHW for images). There are no
// strided views: reshape shares storage, everything else allocates. This
// keeps every kernel a plain loop over a flat array.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"

namespace taper {

constexpr int kMaxDims = 5;

// Up to five extents; a 0-d shape is a scalar with one element.
struct Shape {
  std::array<int64_t, kMaxDims> dims{};
  int ndim = 0;

  Shape() = default;
  Shape(std::initializer_list<int64_t> extents);
  explicit Shape(const std::vector<int64_t>& extents);

  int64_t operator[](int i) const;  // negative i counts from the end
  int64_t numel() const;
  std::vector<int64_t> to_vector() const;
  std::string str() const;  // "[2, 3, 4]"
  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }
};

// Owns one allocation from its device's backend (Backend::allocate). Shared
// by every tensor that views it (reshape, detach), freed when the last one goes.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device;

  Storage(size_t nbytes, Device dev);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class Tensor;
struct Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  DType dtype = DType::F32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated by backward() on leaves
  std::shared_ptr<Node> grad_fn;     // set on outputs of recorded ops
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. Tensors are created on the CPU unless a device is given.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu());
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor from_labels(const std::vector<int64_t>& values);  // 1-d I64
  static Tensor scalar(float value);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int ndim() const { return shape().ndim; }
  int64_t size(int i) const { return shape()[i]; }
  int64_t numel() const { return shape().numel(); }
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return numel() * dtype_size(dtype()); }

  // Raw element access; checks the dtype and that the tensor is on the CPU
  // where the caller dereferences (data_ptr skips the device check).
  float* f32();
  const float* f32() const;
  int64_t* i64();
  const int64_t* i64() const;
  uint8_t* u8();
  const uint8_t* u8() const;
  void* data_ptr() const;

  // Autograd.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool value);
  Tensor grad() const;           // undefined until a backward pass reaches it
  void set_grad(const Tensor& g);
  void zero_grad();              // drops the gradient (PyTorch's set_to_none)
  const std::shared_ptr<Node>& grad_fn() const;
  bool is_leaf() const { return grad_fn() == nullptr; }
  void backward() const;                          // this must hold one element
  void backward(const Tensor& grad_output) const;  // seed gradient, same shape

  // Copies and views.
  Tensor detach() const;  // shares storage, no history
  Tensor clone() const;   // new storage, no history
  // Same shape and dtype, in place; src may be on another device (host <->
  // device copies go through here).
  void copy_from(const Tensor& src);
  // This tensor on `device`: itself when already there, else a copy with no
  // history (requires_grad is not carried over: move leaves before training).
  Tensor to(Device device) const;
  void fill(float value);
  // Host values; a device tensor is copied to the host first.
  float item() const;
  std::vector<float> to_vector() const;
  std::vector<int64_t> to_labels() const;

  TensorImpl* impl() const { return impl_.get(); }
  // No other Tensor shares this handle or its memory (no view, no saved
  // copy): autograd may take such a gradient over instead of copying it.
  bool sole_owner() const { return impl_ && impl_.use_count() == 1 && impl_->storage.use_count() == 1; }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

// Throws std::invalid_argument with "op: message" when cond is false. A
// message with values in it comes as a function that builds it, called only
// on failure: every op checks its inputs on every call, and building the
// strings up front (Shape::str, std::to_string) took 3% of a stage-3 step.
[[noreturn]] void reject_arg(const char* op, const std::string& message);
inline void check_arg(bool cond, const char* op, const char* message) {
  if (!cond) reject_arg(op, message);
}
template <class BuildMessage>
requires std::is_invocable_v<BuildMessage>
void check_arg(bool cond, const char* op, BuildMessage&& message) {
  if (!cond) reject_arg(op, std::string(message()));
}

}  // namespace taper
