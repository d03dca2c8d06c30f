// Written for webslm: a minimal stand-in for a TVM header that the apache-tvm wheel does not ship.
// Only the string helpers the web runtime calls.
#ifndef WEBSLM_TVM_SRC_SUPPORT_UTILS_H_
#define WEBSLM_TVM_SRC_SUPPORT_UTILS_H_

#include <string>

namespace tvm {
namespace support {

inline bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

inline bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace support
}  // namespace tvm

#endif  // WEBSLM_TVM_SRC_SUPPORT_UTILS_H_
