// Written for webslm: a minimal stand-in for a header that the apache-tvm wheel does not ship.
// IEEE-754 binary floating point conversions between formats given by their bit layout, used by the
// runtime's sort kernels to read float16. Template arguments follow the call sites:
//   __extendXfYf2__<SrcT, SrcBits, SrcMantissaBits, DstT, DstBits, DstMantissaBits>(src)  (exact widening)
//   __truncXfYf2__<SrcT, SrcBits, SrcMantissaBits, DstT, DstBits, DstMantissaBits>(src)   (round to nearest even)
// where *Bits is the unsigned integer type holding the value's bit pattern.
#ifndef WEBSLM_BUILTIN_FP16_H_
#define WEBSLM_BUILTIN_FP16_H_

#include <cstdint>
#include <cstring>

namespace webslm_fp_detail {

template <typename Rep, int kMantissaBits>
struct FloatLayout {
  static constexpr int kTotalBits = static_cast<int>(sizeof(Rep) * 8);
  static constexpr int kExponentBits = kTotalBits - kMantissaBits - 1;
  static constexpr int kExponentMax = (1 << kExponentBits) - 1;  // all ones: inf / NaN
  static constexpr int kBias = (1 << (kExponentBits - 1)) - 1;
  static constexpr uint64_t kMantissaMask = (uint64_t(1) << kMantissaBits) - 1;
};

template <typename To, typename From>
inline To BitCast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit cast between different sizes");
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
}

// Unsigned division by 2^shift rounded to nearest, ties to even.
inline uint64_t ShiftRightRoundEven(uint64_t value, int shift) {
  if (shift <= 0) return value << -shift;
  if (shift >= 64) return 0;
  uint64_t quotient = value >> shift;
  uint64_t remainder = value & ((uint64_t(1) << shift) - 1);
  uint64_t half = uint64_t(1) << (shift - 1);
  if (remainder > half || (remainder == half && (quotient & 1))) ++quotient;
  return quotient;
}

}  // namespace webslm_fp_detail

template <typename SrcT, typename SrcRep, int kSrcMantissaBits, typename DstT, typename DstRep,
          int kDstMantissaBits>
inline DstT __truncXfYf2__(SrcT value) {
  using Src = webslm_fp_detail::FloatLayout<SrcRep, kSrcMantissaBits>;
  using Dst = webslm_fp_detail::FloatLayout<DstRep, kDstMantissaBits>;
  uint64_t bits = webslm_fp_detail::BitCast<SrcRep>(value);
  uint64_t sign = (bits >> (Src::kTotalBits - 1)) & 1;
  int exponent = static_cast<int>((bits >> kSrcMantissaBits) & Src::kExponentMax);
  uint64_t mantissa = bits & Src::kMantissaMask;
  uint64_t out_sign = sign << (Dst::kTotalBits - 1);
  uint64_t out;
  if (exponent == Src::kExponentMax) {
    // inf stays inf; NaN stays a (quiet) NaN.
    out = (uint64_t(Dst::kExponentMax) << kDstMantissaBits) |
          (mantissa != 0 ? (uint64_t(1) << (kDstMantissaBits - 1)) : 0);
  } else if (exponent == 0 && mantissa == 0) {
    out = 0;
  } else {
    // value = significand * 2^(unbiased - kSrcMantissaBits), normalised so bit kSrcMantissaBits is set.
    uint64_t significand = exponent == 0 ? mantissa : (mantissa | (uint64_t(1) << kSrcMantissaBits));
    int unbiased = (exponent == 0 ? 1 : exponent) - Src::kBias;
    while ((significand & (uint64_t(1) << kSrcMantissaBits)) == 0) {
      significand <<= 1;
      --unbiased;
    }
    int out_exponent = unbiased + Dst::kBias;
    if (out_exponent >= 1) {
      uint64_t rounded = webslm_fp_detail::ShiftRightRoundEven(significand, kSrcMantissaBits - kDstMantissaBits);
      if (rounded >= (uint64_t(2) << kDstMantissaBits)) {  // rounding carried into a new bit
        rounded >>= 1;
        ++out_exponent;
      }
      if (out_exponent >= Dst::kExponentMax) {
        out = uint64_t(Dst::kExponentMax) << kDstMantissaBits;  // overflow to inf
      } else {
        out = (uint64_t(out_exponent) << kDstMantissaBits) | (rounded & Dst::kMantissaMask);
      }
    } else {
      // Destination subnormal: a carry into bit kDstMantissaBits yields the smallest normal, as wanted.
      int shift = kSrcMantissaBits - kDstMantissaBits + (1 - out_exponent);
      out = webslm_fp_detail::ShiftRightRoundEven(significand, shift);
    }
  }
  return webslm_fp_detail::BitCast<DstT>(static_cast<DstRep>(out | out_sign));
}

template <typename SrcT, typename SrcRep, int kSrcMantissaBits, typename DstT, typename DstRep,
          int kDstMantissaBits>
inline DstT __extendXfYf2__(SrcT value) {
  using Src = webslm_fp_detail::FloatLayout<SrcRep, kSrcMantissaBits>;
  using Dst = webslm_fp_detail::FloatLayout<DstRep, kDstMantissaBits>;
  constexpr int kWiden = kDstMantissaBits - kSrcMantissaBits;
  uint64_t bits = webslm_fp_detail::BitCast<SrcRep>(value);
  uint64_t sign = (bits >> (Src::kTotalBits - 1)) & 1;
  int exponent = static_cast<int>((bits >> kSrcMantissaBits) & Src::kExponentMax);
  uint64_t mantissa = bits & Src::kMantissaMask;
  uint64_t out;
  if (exponent == Src::kExponentMax) {
    out = (uint64_t(Dst::kExponentMax) << kDstMantissaBits) | (mantissa << kWiden);
  } else if (exponent == 0) {
    if (mantissa == 0) {
      out = 0;
    } else {
      // Source subnormal: normalise it (the destination has a wider exponent range).
      int unbiased = 1 - Src::kBias;
      while ((mantissa & (uint64_t(1) << kSrcMantissaBits)) == 0) {
        mantissa <<= 1;
        --unbiased;
      }
      mantissa &= Src::kMantissaMask;
      out = (uint64_t(unbiased + Dst::kBias) << kDstMantissaBits) | (mantissa << kWiden);
    }
  } else {
    out = (uint64_t(exponent - Src::kBias + Dst::kBias) << kDstMantissaBits) | (mantissa << kWiden);
  }
  out |= sign << (Dst::kTotalBits - 1);
  return webslm_fp_detail::BitCast<DstT>(static_cast<DstRep>(out));
}

#endif  // WEBSLM_BUILTIN_FP16_H_
