// Written for webslm: a minimal stand-in for a TVM header that the apache-tvm wheel does not ship.
// It provides only what TVM's web runtime (web/emcc/*.cc and the runtime sources they include) uses.
//
// Stream: an abstract byte stream. Subclasses implement the two raw methods; the typed Read/Write
// templates dispatch to Serializer<T> (see serializer.h), which defines the binary layout.
#ifndef WEBSLM_TVM_SUPPORT_IO_H_
#define WEBSLM_TVM_SUPPORT_IO_H_

#include <cstddef>
#include <cstdint>

namespace tvm {
namespace support {

// Specialisations set `enabled = true` and provide static Write(Stream*, const T&) / Read(Stream*, T*).
template <typename T, typename Enable = void>
struct Serializer {
  static constexpr bool enabled = false;
};

class Stream {
 public:
  virtual ~Stream() = default;
  // Raw bytes; both return the number of bytes actually moved.
  virtual size_t Read(void* ptr, size_t size) = 0;
  virtual size_t Write(const void* ptr, size_t size) = 0;

  template <typename T>
  void Write(const T& value) {
    static_assert(Serializer<T>::enabled, "webslm io.h: no Serializer for this type");
    Serializer<T>::Write(this, value);
  }

  template <typename T>
  bool Read(T* out) {
    static_assert(Serializer<T>::enabled, "webslm io.h: no Serializer for this type");
    return Serializer<T>::Read(this, out);
  }

  template <typename T>
  void WriteArray(const T* values, size_t count) {
    for (size_t i = 0; i < count; ++i) this->Write<T>(values[i]);
  }

  template <typename T>
  bool ReadArray(T* values, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      if (!this->Read<T>(values + i)) return false;
    }
    return true;
  }
};

}  // namespace support
}  // namespace tvm

#endif  // WEBSLM_TVM_SUPPORT_IO_H_
