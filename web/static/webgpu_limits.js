// Devices from Dawn's compatibility mode (Mesa lavapipe through ANGLE/GLES, our fast path on machines without a GPU)
// start with maxComputeWorkgroupSizeX 128. web-llm raises the invocation count but not the workgroup sizes, so the
// model's 256- and 1024-wide kernels would fail to build there. Importing this module makes every requestDevice()
// in this realm (page or worker) also ask for the largest compute limits the adapter offers; on core-mode GPUs these
// are the values a device may use anyway.
const COMPUTE_LIMITS = [
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupStorageSize",
];

if (typeof GPUAdapter !== "undefined" && !GPUAdapter.prototype.requestDevice.raisesComputeLimits) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  const raised = function (descriptor = {}) {
    const requiredLimits = { ...(descriptor.requiredLimits || {}) };
    for (const name of COMPUTE_LIMITS) {
      const offered = this.limits[name];
      if (offered !== undefined && offered > (requiredLimits[name] ?? 0)) requiredLimits[name] = offered;
    }
    return requestDevice.call(this, { ...descriptor, requiredLimits });
  };
  raised.raisesComputeLimits = true;
  GPUAdapter.prototype.requestDevice = raised;
}
