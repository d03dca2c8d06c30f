// Written for webslm: a minimal stand-in for a TVM header that the apache-tvm wheel does not ship.
//
// Binary layout (must match what the TVM compiler writes into executables and device modules):
//   arithmetic / enum   raw little-endian bytes of the (underlying) type; wasm32 is little-endian,
//                       so no byte swapping is ever needed here
//   string              uint64 length, then the bytes
//   vector / Array      uint64 count, then each element
//   pair                first, then second
//   unordered_map / Map uint64 count, then key, value for each entry
//   DLDataType          uint8 code, uint8 bits, uint16 lanes
//   DLDevice            int32 device_type, int32 device_id
#ifndef WEBSLM_TVM_SUPPORT_SERIALIZER_H_
#define WEBSLM_TVM_SUPPORT_SERIALIZER_H_

#include <dlpack/dlpack.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/map.h>
#include <tvm/ffi/string.h>
#include <tvm/support/io.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tvm {
namespace support {

template <typename T>
struct Serializer<T, std::enable_if_t<std::is_arithmetic_v<T>>> {
  static constexpr bool enabled = true;
  static void Write(Stream* strm, const T& value) { strm->Write(&value, sizeof(T)); }
  static bool Read(Stream* strm, T* out) { return strm->Read(out, sizeof(T)) == sizeof(T); }
};

template <typename T>
struct Serializer<T, std::enable_if_t<std::is_enum_v<T>>> {
  static constexpr bool enabled = true;
  using Raw = std::underlying_type_t<T>;
  static void Write(Stream* strm, const T& value) {
    Serializer<Raw>::Write(strm, static_cast<Raw>(value));
  }
  static bool Read(Stream* strm, T* out) {
    Raw raw;
    if (!Serializer<Raw>::Read(strm, &raw)) return false;
    *out = static_cast<T>(raw);
    return true;
  }
};

namespace detail {
inline void WriteBytesWithLength(Stream* strm, const char* data, size_t size) {
  uint64_t length = size;
  strm->Write(&length, sizeof(length));
  if (size != 0) strm->Write(data, size);
}
inline bool ReadBytesWithLength(Stream* strm, std::string* out) {
  uint64_t length;
  if (strm->Read(&length, sizeof(length)) != sizeof(length)) return false;
  out->resize(static_cast<size_t>(length));
  if (length == 0) return true;
  return strm->Read(&(*out)[0], out->size()) == out->size();
}
}  // namespace detail

template <>
struct Serializer<std::string> {
  static constexpr bool enabled = true;
  static void Write(Stream* strm, const std::string& value) {
    detail::WriteBytesWithLength(strm, value.data(), value.size());
  }
  static bool Read(Stream* strm, std::string* out) { return detail::ReadBytesWithLength(strm, out); }
};

template <>
struct Serializer<ffi::String> {
  static constexpr bool enabled = true;
  static void Write(Stream* strm, const ffi::String& value) {
    detail::WriteBytesWithLength(strm, value.data(), value.size());
  }
  static bool Read(Stream* strm, ffi::String* out) {
    std::string text;
    if (!detail::ReadBytesWithLength(strm, &text)) return false;
    *out = ffi::String(std::move(text));
    return true;
  }
};

template <typename T>
struct Serializer<std::vector<T>> {
  static constexpr bool enabled = true;
  static void Write(Stream* strm, const std::vector<T>& values) {
    uint64_t count = values.size();
    strm->Write(&count, sizeof(count));
    if constexpr (std::is_arithmetic_v<T>) {
      if (count != 0) strm->Write(values.data(), sizeof(T) * values.size());
    } else {
      for (const T& v : values) Serializer<T>::Write(strm, v);
    }
  }
  static bool Read(Stream* strm, std::vector<T>* out) {
    uint64_t count;
    if (strm->Read(&count, sizeof(count)) != sizeof(count)) return false;
    out->resize(static_cast<size_t>(count));
    if constexpr (std::is_arithmetic_v<T>) {
      size_t nbytes = sizeof(T) * out->size();
      return nbytes == 0 || strm->Read(out->data(), nbytes) == nbytes;
    } else {
      for (T& v : *out) {
        if (!Serializer<T>::Read(strm, &v)) return false;
      }
      return true;
    }
  }
};

template <typename A, typename B>
struct Serializer<std::pair<A, B>> {
  static constexpr bool enabled = true;
  static void Write(Stream* strm, const std::pair<A, B>& value) {
    Serializer<A>::Write(strm, value.first);
    Serializer<B>::Write(strm, value.second);
  }
  static bool Read(Stream* strm, std::pair<A, B>* out) {
    return Serializer<A>::Read(strm, &out->first) && Serializer<B>::Read(strm, &out->second);
  }
};

template <typename K, typename V>
struct Serializer<std::unordered_map<K, V>> {
  static constexpr bool enabled = true;
  static void Write(Stream* strm, const std::unordered_map<K, V>& table) {
    uint64_t count = table.size();
    strm->Write(&count, sizeof(count));
    for (const auto& kv : table) {
      Serializer<K>::Write(strm, kv.first);
      Serializer<V>::Write(strm, kv.second);
    }
  }
  static bool Read(Stream* strm, std::unordered_map<K, V>* out) {
    uint64_t count;
    if (strm->Read(&count, sizeof(count)) != sizeof(count)) return false;
    out->clear();
    for (uint64_t i = 0; i < count; ++i) {
      K key;
      V value;
      if (!Serializer<K>::Read(strm, &key) || !Serializer<V>::Read(strm, &value)) return false;
      (*out)[std::move(key)] = std::move(value);
    }
    return true;
  }
};

template <typename T>
struct Serializer<ffi::Array<T>> {
  static constexpr bool enabled = true;
  static void Write(Stream* strm, const ffi::Array<T>& values) {
    uint64_t count = values.size();
    strm->Write(&count, sizeof(count));
    for (const auto& v : values) Serializer<T>::Write(strm, v);
  }
  static bool Read(Stream* strm, ffi::Array<T>* out) {
    uint64_t count;
    if (strm->Read(&count, sizeof(count)) != sizeof(count)) return false;
    ffi::Array<T> values;
    for (uint64_t i = 0; i < count; ++i) {
      T v;
      if (!Serializer<T>::Read(strm, &v)) return false;
      values.push_back(std::move(v));
    }
    *out = std::move(values);
    return true;
  }
};

template <typename K, typename V>
struct Serializer<ffi::Map<K, V>> {
  static constexpr bool enabled = true;
  static void Write(Stream* strm, const ffi::Map<K, V>& table) {
    uint64_t count = table.size();
    strm->Write(&count, sizeof(count));
    for (const auto& kv : table) {
      Serializer<K>::Write(strm, kv.first);
      Serializer<V>::Write(strm, kv.second);
    }
  }
  static bool Read(Stream* strm, ffi::Map<K, V>* out) {
    uint64_t count;
    if (strm->Read(&count, sizeof(count)) != sizeof(count)) return false;
    ffi::Map<K, V> table;
    for (uint64_t i = 0; i < count; ++i) {
      K key;
      V value;
      if (!Serializer<K>::Read(strm, &key) || !Serializer<V>::Read(strm, &value)) return false;
      table.Set(std::move(key), std::move(value));
    }
    *out = std::move(table);
    return true;
  }
};

template <>
struct Serializer<DLDataType> {
  static constexpr bool enabled = true;
  static void Write(Stream* strm, const DLDataType& dtype) {
    Serializer<uint8_t>::Write(strm, dtype.code);
    Serializer<uint8_t>::Write(strm, dtype.bits);
    Serializer<uint16_t>::Write(strm, dtype.lanes);
  }
  static bool Read(Stream* strm, DLDataType* out) {
    return Serializer<uint8_t>::Read(strm, &out->code) && Serializer<uint8_t>::Read(strm, &out->bits) &&
           Serializer<uint16_t>::Read(strm, &out->lanes);
  }
};

template <>
struct Serializer<DLDevice> {
  static constexpr bool enabled = true;
  static void Write(Stream* strm, const DLDevice& device) {
    Serializer<int32_t>::Write(strm, static_cast<int32_t>(device.device_type));
    Serializer<int32_t>::Write(strm, device.device_id);
  }
  static bool Read(Stream* strm, DLDevice* out) {
    int32_t device_type;
    if (!Serializer<int32_t>::Read(strm, &device_type)) return false;
    out->device_type = static_cast<DLDeviceType>(device_type);
    return Serializer<int32_t>::Read(strm, &out->device_id);
  }
};

}  // namespace support
}  // namespace tvm

#endif  // WEBSLM_TVM_SUPPORT_SERIALIZER_H_
