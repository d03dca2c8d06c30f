// Written for webslm: a minimal stand-in for a TVM header that the apache-tvm wheel does not ship.
// A bump allocator for short-lived RPC argument buffers: allocate_<T>(n) hands out aligned memory,
// RecycleAll() releases everything at once.
#ifndef WEBSLM_TVM_SRC_SUPPORT_ARENA_H_
#define WEBSLM_TVM_SRC_SUPPORT_ARENA_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace tvm {
namespace support {

class Arena {
 public:
  static constexpr size_t kPageBytes = 16 << 10;

  template <typename T>
  T* allocate_(size_t count) {
    return static_cast<T*>(Alloc(sizeof(T) * count, alignof(T) < 16 ? 16 : alignof(T)));
  }

  void* Alloc(size_t nbytes, size_t align) {
    size_t start = (used_ + align - 1) / align * align;
    if (pages_.empty() || start + nbytes > capacity_) {
      capacity_ = std::max(kPageBytes, nbytes + align);
      pages_.emplace_back(new char[capacity_]);
      used_ = 0;
      uintptr_t base = reinterpret_cast<uintptr_t>(pages_.back().get());
      start = (align - base % align) % align;
    }
    used_ = start + nbytes;
    return pages_.back().get() + start;
  }

  void RecycleAll() {
    pages_.clear();
    used_ = 0;
    capacity_ = 0;
  }

 private:
  std::vector<std::unique_ptr<char[]>> pages_;
  size_t used_{0};
  size_t capacity_{0};
};

}  // namespace support
}  // namespace tvm

#endif  // WEBSLM_TVM_SRC_SUPPORT_ARENA_H_
