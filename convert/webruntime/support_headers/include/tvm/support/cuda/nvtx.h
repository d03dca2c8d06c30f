// Written for webslm: a minimal stand-in for a TVM header that the apache-tvm wheel does not ship.
// NVTX profiling ranges only exist on CUDA builds; in the browser runtime a range is a no-op.
#ifndef WEBSLM_TVM_SUPPORT_CUDA_NVTX_H_
#define WEBSLM_TVM_SUPPORT_CUDA_NVTX_H_

#include <string>

namespace tvm {
namespace support {

class NVTXScopedRange {
 public:
  explicit NVTXScopedRange(const char*) {}
  explicit NVTXScopedRange(const std::string&) {}
  NVTXScopedRange(const NVTXScopedRange&) = delete;
  NVTXScopedRange& operator=(const NVTXScopedRange&) = delete;
};

}  // namespace support
}  // namespace tvm

#endif  // WEBSLM_TVM_SUPPORT_CUDA_NVTX_H_
