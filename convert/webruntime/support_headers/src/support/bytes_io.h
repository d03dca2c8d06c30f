// Written for webslm: a minimal stand-in for a TVM header that the apache-tvm wheel does not ship.
// Streams over an in-memory byte string: BytesInStream reads a borrowed buffer, BytesOutStream
// appends to a caller-owned std::string.
#ifndef WEBSLM_TVM_SRC_SUPPORT_BYTES_IO_H_
#define WEBSLM_TVM_SRC_SUPPORT_BYTES_IO_H_

#include <tvm/ffi/string.h>
#include <tvm/support/io.h>
#include <tvm/support/serializer.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace tvm {
namespace support {

class BytesInStream : public Stream {
 public:
  using Stream::Read;
  using Stream::Write;

  BytesInStream(const void* data, size_t size)
      : data_(static_cast<const char*>(data)), size_(size) {}
  // The source must outlive the stream (every caller reads a local or an argument).
  explicit BytesInStream(const std::string& bytes) : BytesInStream(bytes.data(), bytes.size()) {}
  // ffi::Bytes is reference counted: keep a reference so the buffer cannot go away.
  explicit BytesInStream(const ffi::Bytes& bytes)
      : data_(bytes.data()), size_(bytes.size()), keep_alive_(bytes) {}

  size_t Read(void* ptr, size_t size) final {
    size_t n = std::min(size, size_ - offset_);
    if (n != 0) std::memcpy(ptr, data_ + offset_, n);
    offset_ += n;
    return n;
  }
  size_t Write(const void*, size_t) final { return 0; }

 private:
  const char* data_;
  size_t size_;
  size_t offset_{0};
  ffi::Bytes keep_alive_;
};

class BytesOutStream : public Stream {
 public:
  using Stream::Read;
  using Stream::Write;

  explicit BytesOutStream(std::string* out) : out_(out) {}

  size_t Read(void*, size_t) final { return 0; }
  size_t Write(const void* ptr, size_t size) final {
    out_->append(static_cast<const char*>(ptr), size);
    return size;
  }

 private:
  std::string* out_;
};

}  // namespace support
}  // namespace tvm

#endif  // WEBSLM_TVM_SRC_SUPPORT_BYTES_IO_H_
