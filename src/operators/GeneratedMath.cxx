#include "GeneratedMath.hxx"

#include <cmath>
#include <cstdio>

namespace SOFIE {
namespace PyTorch {
namespace operators {

namespace {

template <size_t N>
std::string Indented(const char *const (&lines)[N], const std::string &indent)
{
   std::string code;
   for (const char *line : lines)
      code += indent + line + "\n";
   return code;
}

} // namespace

std::string FloatLiteral(float v)
{
   if (std::isnan(v))
      return "std::numeric_limits<float>::quiet_NaN()";
   if (std::isinf(v))
      return v > 0 ? "std::numeric_limits<float>::infinity()" : "(-std::numeric_limits<float>::infinity())";
   char text[64];
   std::snprintf(text, sizeof text, "%af", static_cast<double>(v)); // exact (hexadecimal, C++17)
   return std::string("(") + text + ")";
}

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
      // tanh = 1 - 2 / (1 + e^2x): the clamp inside sp_exp keeps both ends finite, and no
      // quotient of two huge numbers is left, whose reciprocal -ffast-math would flush to zero
      // (tanh(-100) came out 0 instead of -1 as (1 - e) / (1 + e) with e = e^200).
      "auto sp_tanh = [&sp_exp](float x) -> float { return 1.0f - 2.0f / (1.0f + sp_exp(2.0f * x)); };",
   };
   return Indented(kLines, indent);
}

std::string ElementwiseLambdas(const std::string &indent)
{
   // erf: Numerical Recipes' erfc(|x|) = t exp(-x^2 + P(t)), t = 1 / (1 + |x|/2), with a
   // relative error below 1.2e-7, then erf = sign(x) (1 - erfc(|x|)): absolute error about
   // 1e-7, no branch.
   // softplus: max(x, 0) + log1p(exp(-|x|)); log1p(u) for u in (0, 1] as log(w) u / (w - 1)
   // with w = 1 + u (exact for tiny u), log(w) for w in [1, 2] by a range split at sqrt(2)
   // and Cephes' logf polynomial.
   static const char *const kLines[] = {
      "auto sp_select = [](bool c, auto x, auto y) { return c ? x : y; };",
      "auto sp_erf = [&sp_exp](float x) -> float {",
      "   const float z = std::abs(x), t = 1.0f / (1.0f + 0.5f * z);",
      "   float p = 0.17087277f;",
      "   p = p * t - 0.82215223f;",
      "   p = p * t + 1.48851587f;",
      "   p = p * t - 1.13520398f;",
      "   p = p * t + 0.27886807f;",
      "   p = p * t - 0.18628806f;",
      "   p = p * t + 0.09678418f;",
      "   p = p * t + 0.37409196f;",
      "   p = p * t + 1.00002368f;",
      "   p = p * t - 1.26551223f;",
      "   return std::copysign(1.0f - t * sp_exp(p - z * z), x);",
      "};",
      "auto sp_softplus = [&sp_exp, &sp_select](float x) -> float {",
      "   const float u = sp_exp(-std::abs(x)), w = 1.0f + u, d = w - 1.0f;",
      "   const bool upper = w > 1.41421356f;",
      "   const float f = sp_select(upper, 0.5f * w, w) - 1.0f, z = f * f;",
      "   float p = 7.0376836292e-2f;",
      "   p = p * f - 1.1514610310e-1f;",
      "   p = p * f + 1.1676998740e-1f;",
      "   p = p * f - 1.2420140846e-1f;",
      "   p = p * f + 1.4249322787e-1f;",
      "   p = p * f - 1.6668057665e-1f;",
      "   p = p * f + 2.0000714765e-1f;",
      "   p = p * f - 2.4999993993e-1f;",
      "   p = p * f + 3.3333331174e-1f;",
      "   const float logw = f + (f * z * p - 0.5f * z) + sp_select(upper, 0.69314718056f, 0.0f);",
      "   return std::max(x, 0.0f) + sp_select(d == 0.0f, u, logw * (u / d));",
      "};",
      "(void)sp_select;",
      "(void)sp_sigmoid;",
      "(void)sp_tanh;",
      "(void)sp_erf;",
      "(void)sp_softplus;",
   };
   return Indented(kLines, indent);
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
