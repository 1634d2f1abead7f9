#include "GeneratedMath.hxx"

namespace SOFIE {
namespace PyTorch {
namespace operators {

std::string ActivationLambdas(const std::string &indent)
{
   // exp: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), e^r by the Cephes
   // polynomial, 2^n built in the exponent bits. Relative error about 1e-7. The input is
   // first clamped to [-87, 88], so that 2^n stays a normal float, by selecting bits:
   // g++ does not if-convert float ?: selections under its default -ftrapping-math (the
   // loop would stay scalar), and arithmetic blends lose large inputs or turn inf into
   // NaN. n is rounded by integer conversion rather than the 1.5*2^23 trick, which
   // -ffast-math would optimise away.
   static const char *const kLines[] = {
      "auto sp_exp = [](float x) -> float {",
      "   const float lo = -87.0f, hi = 88.0f;",
      "   std::int32_t xb, lob, hib;",
      "   std::memcpy(&xb, &x, sizeof xb);",
      "   std::memcpy(&lob, &lo, sizeof lob);",
      "   std::memcpy(&hib, &hi, sizeof hib);",
      "   const std::int32_t below = -static_cast<std::int32_t>(x < lo), above = -static_cast<std::int32_t>(x > hi);",
      "   xb = (xb & ~(below | above)) | (lob & below) | (hib & above);",
      "   std::memcpy(&x, &xb, sizeof x);",
      "   const std::int32_t n = static_cast<std::int32_t>(x * 1.44269504088896341f + std::copysign(0.5f, x));",
      "   const float fn = static_cast<float>(n);",
      "   float r = x - fn * 0.693359375f;",
      "   r = r + fn * 2.12194440e-4f;",
      "   float p = 1.9875691500e-4f;",
      "   p = p * r + 1.3981999507e-3f;",
      "   p = p * r + 8.3334519073e-3f;",
      "   p = p * r + 4.1665795894e-2f;",
      "   p = p * r + 1.6666665459e-1f;",
      "   p = p * r + 5.0000001201e-1f;",
      "   const float y = p * r * r + r + 1.0f;",
      "   const std::int32_t bits = (n + 127) * 8388608;",
      "   float scale;",
      "   std::memcpy(&scale, &bits, sizeof scale);",
      "   return y * scale;",
      "};",
      "auto sp_sigmoid = [&sp_exp](float x) -> float { return 1.0f / (1.0f + sp_exp(-x)); };",
      // tanh = (1 - e^-2x) / (1 + e^-2x): the clamp inside sp_exp keeps both ends finite.
      "auto sp_tanh = [&sp_exp](float x) -> float {",
      "   const float e = sp_exp(-2.0f * x);",
      "   return (1.0f - e) / (1.0f + e);",
      "};",
   };
   std::string code;
   for (const char *line : kLines)
      code += indent + line + "\n";
   return code;
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
