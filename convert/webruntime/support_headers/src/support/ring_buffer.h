// Written for webslm: a minimal stand-in for a TVM header that the apache-tvm wheel does not ship.
// A growable FIFO byte queue used by the RPC endpoint: bytes are appended with Write /
// WriteWithCallback and consumed in order with Read / ReadWithCallback.
#ifndef WEBSLM_TVM_SRC_SUPPORT_RING_BUFFER_H_
#define WEBSLM_TVM_SRC_SUPPORT_RING_BUFFER_H_

#include <algorithm>
#include <cstring>
#include <vector>

namespace tvm {
namespace support {

class RingBuffer {
 public:
  RingBuffer() : storage_(kInitialBytes) {}

  size_t bytes_available() const { return size_; }

  // Grows the storage so that `n` bytes fit in total; keeps the queued bytes and their order.
  void Reserve(size_t n) {
    if (n <= storage_.size()) return;
    std::vector<char> grown(std::max(n, storage_.size() * 2));
    CopyOut(grown.data(), size_);
    storage_.swap(grown);
    head_ = 0;
  }

  void Write(const void* data, size_t size) {
    Reserve(size_ + size);
    const char* src = static_cast<const char*>(data);
    size_t tail = (head_ + size_) % storage_.size();
    size_t first = std::min(size, storage_.size() - tail);
    std::memcpy(storage_.data() + tail, src, first);
    std::memcpy(storage_.data(), src + first, size - first);
    size_ += size;
  }

  void Read(void* data, size_t size) {
    CopyOut(static_cast<char*>(data), size);
    Consume(size);
  }

  // Offers up to max_nbytes queued bytes (one contiguous run) to frecv(const void*, size_t) -> size_t;
  // the bytes it reports as taken are removed. Returns that count.
  template <typename F>
  size_t ReadWithCallback(F frecv, size_t max_nbytes) {
    size_t run = std::min({max_nbytes, size_, storage_.size() - head_});
    if (run == 0) return 0;
    size_t taken = frecv(storage_.data() + head_, run);
    Consume(taken);
    return taken;
  }

  // Lets fsend(void*, size_t) -> size_t fill up to max_nbytes of free space; returns the bytes added.
  template <typename F>
  size_t WriteWithCallback(F fsend, size_t max_nbytes) {
    if (max_nbytes == 0) return 0;
    size_t tail = (head_ + size_) % storage_.size();
    bool wrapped = size_ != 0 && tail <= head_;
    size_t contiguous = wrapped ? head_ - tail : storage_.size() - tail;
    if (contiguous < max_nbytes) {
      // Move the queued bytes to the front of a buffer big enough for one contiguous free run.
      std::vector<char> linear(std::max(storage_.size(), size_ + max_nbytes));
      CopyOut(linear.data(), size_);
      storage_.swap(linear);
      head_ = 0;
      tail = size_;
    }
    size_t added = fsend(storage_.data() + tail, max_nbytes);
    size_ += added;
    return added;
  }

 private:
  static constexpr size_t kInitialBytes = 1024;

  void CopyOut(char* dst, size_t size) const {
    size_t first = std::min(size, storage_.size() - head_);
    std::memcpy(dst, storage_.data() + head_, first);
    std::memcpy(dst + first, storage_.data(), size - first);
  }
  void Consume(size_t size) {
    head_ = (head_ + size) % storage_.size();
    size_ -= size;
    if (size_ == 0) head_ = 0;
  }

  std::vector<char> storage_;
  size_t head_{0};
  size_t size_{0};
};

}  // namespace support
}  // namespace tvm

#endif  // WEBSLM_TVM_SRC_SUPPORT_RING_BUFFER_H_
