// Written for webslm: a minimal stand-in for a TVM header that the apache-tvm wheel does not ship.
// Base64 (RFC 4648 alphabet, '=' padding) streams layered over another Stream. The runtime uses them
// only to embed tensors in JSON, so clarity beats speed: the reader decodes everything up front.
#ifndef WEBSLM_TVM_SRC_SUPPORT_BASE64_H_
#define WEBSLM_TVM_SRC_SUPPORT_BASE64_H_

#include <tvm/ffi/error.h>
#include <tvm/support/io.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace tvm {
namespace support {

namespace base64_detail {
inline const char* Alphabet() {
  return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}
// 0..63 for alphabet characters, -1 for anything else.
inline int Decode(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace base64_detail

class Base64InStream : public Stream {
 public:
  using Stream::Read;
  using Stream::Write;

  explicit Base64InStream(Stream* source) : source_(source) {}

  // Decodes the whole remaining source; whitespace is skipped, decoding stops at '=' padding.
  void InitPosition() {
    std::string text;
    char chunk[4096];
    size_t n;
    while ((n = source_->Read(chunk, sizeof(chunk))) != 0) text.append(chunk, n);
    decoded_.clear();
    offset_ = 0;
    uint32_t bits = 0;
    int nbits = 0;
    for (char c : text) {
      if (c == '=') break;
      int v = base64_detail::Decode(c);
      if (v < 0) {
        TVM_FFI_ICHECK(c == ' ' || c == '\n' || c == '\r' || c == '\t')
            << "invalid base64 character code " << static_cast<int>(c);
        continue;
      }
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits >= 8) {
        nbits -= 8;
        decoded_.push_back(static_cast<char>((bits >> nbits) & 0xFF));
      }
    }
    initialized_ = true;
  }

  size_t Read(void* ptr, size_t size) final {
    if (!initialized_) InitPosition();
    size_t n = std::min(size, decoded_.size() - offset_);
    if (n != 0) std::memcpy(ptr, decoded_.data() + offset_, n);
    offset_ += n;
    return n;
  }
  size_t Write(const void*, size_t) final { return 0; }

 private:
  Stream* source_;
  std::string decoded_;
  size_t offset_{0};
  bool initialized_{false};
};

class Base64OutStream : public Stream {
 public:
  using Stream::Read;
  using Stream::Write;

  explicit Base64OutStream(Stream* sink) : sink_(sink) {}

  size_t Read(void*, size_t) final { return 0; }
  size_t Write(const void* ptr, size_t size) final {
    const unsigned char* bytes = static_cast<const unsigned char*>(ptr);
    for (size_t i = 0; i < size; ++i) {
      group_[group_size_++] = bytes[i];
      if (group_size_ == 3) EmitGroup();
    }
    return size;
  }
  // Writes the last partial group with '=' padding; call once after the last Write.
  void Finish() {
    if (group_size_ != 0) EmitGroup();
  }

 private:
  void EmitGroup() {
    const char* alphabet = base64_detail::Alphabet();
    uint32_t word = 0;
    for (int i = 0; i < 3; ++i) word = (word << 8) | (i < group_size_ ? group_[i] : 0);
    char out[4];
    for (int i = 0; i < 4; ++i) out[i] = alphabet[(word >> (18 - 6 * i)) & 63];
    if (group_size_ < 3) out[3] = '=';
    if (group_size_ < 2) out[2] = '=';
    sink_->Write(out, 4);
    group_size_ = 0;
  }

  Stream* sink_;
  unsigned char group_[3];
  int group_size_{0};
};

}  // namespace support
}  // namespace tvm

#endif  // WEBSLM_TVM_SRC_SUPPORT_BASE64_H_
