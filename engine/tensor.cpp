#include "engine/tensor.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

namespace taper {

void reject_arg(const char* op, const std::string& message) {
  throw std::invalid_argument(std::string(op) + ": " + message);
}

// ---- Shape ----

Shape::Shape(std::initializer_list<int64_t> extents) : Shape(std::vector<int64_t>(extents)) {}

Shape::Shape(const std::vector<int64_t>& extents) {
  check_arg(extents.size() <= kMaxDims, "Shape", [&] {
    return "at most " + std::to_string(kMaxDims) + " dimensions, got " + std::to_string(extents.size());
  });
  ndim = static_cast<int>(extents.size());
  for (int i = 0; i < ndim; ++i) {
    check_arg(extents[i] >= 0, "Shape", [&] { return "negative extent " + std::to_string(extents[i]); });
    dims[i] = extents[i];
  }
}

int64_t Shape::operator[](int i) const {
  int j = i < 0 ? i + ndim : i;
  check_arg(j >= 0 && j < ndim, "Shape",
            [&] { return "dimension " + std::to_string(i) + " out of range for " + str(); });
  return dims[j];
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= dims[i];
  return n;
}

std::vector<int64_t> Shape::to_vector() const { return {dims.begin(), dims.begin() + ndim}; }

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

bool Shape::operator==(const Shape& other) const {
  if (ndim != other.ndim) return false;
  for (int i = 0; i < ndim; ++i) {
    if (dims[i] != other.dims[i]) return false;
  }
  return true;
}

// ---- Storage ----

Storage::Storage(size_t nbytes, Device dev) : bytes(nbytes), device(dev) {
  data = backend_for(dev).allocate(nbytes);
}

Storage::~Storage() { backend_for(device).deallocate(data, bytes); }

// ---- Tensor factories ----

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape.numel() * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend_for(device).zero(t);
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, DType::F32, device);
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  check_arg(static_cast<int64_t>(values.size()) == shape.numel(), "from_vector",
            [&] { return std::to_string(values.size()) + " values for shape " + shape.str(); });
  Tensor t = empty(shape);
  std::memcpy(t.data_ptr(), values.data(), t.nbytes());
  return t;
}

Tensor Tensor::from_labels(const std::vector<int64_t>& values) {
  Tensor t = empty(Shape{static_cast<int64_t>(values.size())}, DType::I64);
  std::memcpy(t.data_ptr(), values.data(), t.nbytes());
  return t;
}

Tensor Tensor::scalar(float value) { return full(Shape{}, value); }

// ---- Accessors ----

TensorImpl& Tensor::checked() const {
  if (!impl_) throw std::logic_error("use of an undefined tensor");
  return *impl_;
}

const Shape& Tensor::shape() const { return checked().shape; }
DType Tensor::dtype() const { return checked().dtype; }
Device Tensor::device() const { return checked().storage->device; }
void* Tensor::data_ptr() const { return checked().storage->data; }

namespace {
template <typename T>
T* typed(const Tensor& t, DType want) {
  if (t.dtype() != want) {
    throw std::invalid_argument(std::string("tensor holds ") + dtype_name(t.dtype()) + ", accessed as " +
                                dtype_name(want));
  }
  if (!t.device().is_cpu()) throw std::invalid_argument("host access to a tensor on " + t.device().str());
  return static_cast<T*>(t.data_ptr());
}
}  // namespace

float* Tensor::f32() { return typed<float>(*this, DType::F32); }
const float* Tensor::f32() const { return typed<float>(*this, DType::F32); }
int64_t* Tensor::i64() { return typed<int64_t>(*this, DType::I64); }
const int64_t* Tensor::i64() const { return typed<int64_t>(*this, DType::I64); }
uint8_t* Tensor::u8() { return typed<uint8_t>(*this, DType::U8); }
const uint8_t* Tensor::u8() const { return typed<uint8_t>(*this, DType::U8); }

// ---- Autograd ----

bool Tensor::requires_grad() const { return checked().requires_grad; }

Tensor& Tensor::set_requires_grad(bool value) {
  check_arg(!value || dtype() == DType::F32, "set_requires_grad", "only float tensors can require grad");
  checked().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(checked().grad); }

void Tensor::set_grad(const Tensor& g) {
  check_arg(!g.defined() || g.shape() == shape(), "set_grad",
            [&] { return "gradient shape " + (g.defined() ? g.shape().str() : "") + " != " + shape().str(); });
  checked().grad = g.impl_ptr();
}

void Tensor::zero_grad() { checked().grad.reset(); }

const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked().grad_fn; }

void Tensor::backward() const {
  check_arg(numel() == 1, "backward", [&] { return "implicit seed needs a one-element output, got " + shape().str(); });
  run_backward(*this, Tensor::full(shape(), 1.0f, device()));
}

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

// ---- Copies ----

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked().storage;
  impl->shape = shape();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype(), device());
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  check_arg(src.shape() == shape() && src.dtype() == dtype(), "copy_from", [&] {
    return "source " + src.shape().str() + " " + dtype_name(src.dtype()) + " vs destination " + shape().str() + " " +
           dtype_name(dtype());
  });
  if (src.device() == device()) {
    copy_bytes(*this, src);
  } else if (device().is_cpu()) {
    backend_for(src.device()).copy_to_host(data_ptr(), src);
  } else if (src.device().is_cpu()) {
    backend_for(device()).copy_from_host(*this, src.data_ptr());
  } else {
    throw std::invalid_argument("copy_from: no direct copy from " + src.device().str() + " to " + device().str());
  }
}

Tensor Tensor::to(Device target) const {
  if (device() == target) return *this;
  Tensor out = empty(shape(), dtype(), target);
  out.copy_from(*this);
  return out;
}

void Tensor::fill(float value) { fill_value(*this, value); }

float Tensor::item() const {
  check_arg(numel() == 1, "item", [&] { return "tensor has " + std::to_string(numel()) + " elements"; });
  const Tensor host = to(Device::cpu());
  return dtype() == DType::I64 ? static_cast<float>(host.i64()[0]) : host.f32()[0];
}

std::vector<float> Tensor::to_vector() const {
  const Tensor host = to(Device::cpu());
  const float* p = host.f32();
  return {p, p + numel()};
}

std::vector<int64_t> Tensor::to_labels() const {
  const Tensor host = to(Device::cpu());
  const int64_t* p = host.i64();
  return {p, p + numel()};
}

}  // namespace taper
