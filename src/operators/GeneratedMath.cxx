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
   // sp_select(c, x, y) evaluates both of its operands before selecting, so that g++
   // if-converts the selection and vectorises the loop around it (a float ?: on its own is
   // not if-converted under g++'s default -ftrapping-math). sp_pick(c, x, y) is the same
   // for floats on their bits: it vectorises wherever its caller is inlined (sp_select in
   // sigmoid and tanh made the recurrent layers' gate loops, inside the packed product,
   // 1.5-3.5x slower at -O3 -march=x86-64-v3).
   //
   // exp: x = n ln2 + r (Cody-Waite split of ln2), e^r by the Cephes polynomial, 2^n built in
   // the exponent bits. Relative error about 1e-7 (up to 3e-7 at the top, where n stops at
   // 127 and r reaches ln2). Saturated like Torch's: 0 below ln(FLT_MIN) (Torch gives a
   // subnormal there, < 1.2e-38), +inf above ln(FLT_MAX), NaN kept. The input is clamped and
   // the ends chosen by comparisons with finite limits and integer masks on the bits: they
   // survive -ffast-math (which assumes no inf/NaN and may drop tests for them), where float
   // ?: selections and arithmetic blends would not (g++ does not if-convert the former; the
   // latter lose large inputs or turn inf into NaN). n is rounded by integer conversion
   // rather than the 1.5*2^23 trick, which -ffast-math would optimise away.
   //
   // sigmoid and tanh only ever take e = e^-|x| (in [0, 1]) and divide by 1 + e: no quotient
   // has a huge or infinite denominator, and the saturated results (0, +-1) come from e = 0
   // times a quotient, exactly. -ffast-math computes quotients approximately (rcpps + one
   // Newton step, on SSE and AVX2; AVX-512's rcp14 is closer): 0 * inf = NaN at the top,
   // 1 - 2/(1 + e) came out 2^-24 instead of 0 for tiny x (mish(-1e9) = -59.6 on AVX2), and
   // 1/(1 + 0) one ulp below 1. tanh takes Cephes' odd polynomial below 0.625, so that
   // tanh(x) = x for tiny x (no cancellation in 1 - e).
   static const char *const kLines[] = {
      "auto sp_select = [](bool c, auto x, auto y) { return c ? x : y; };",
      "auto sp_exp = [](float x) -> float {",
      "   const float lo = -0x1.5d589ep+6f, hi = 0x1.62e43p+6f;", // ln(FLT_MIN), ln(FLT_MAX)
      "   std::int32_t xb, lob, hib;",
      "   std::memcpy(&xb, &x, sizeof xb);",
      "   std::memcpy(&lob, &lo, sizeof lob);",
      "   std::memcpy(&hib, &hi, sizeof hib);",
      "   const std::int32_t below = -static_cast<std::int32_t>(x < lo), above = -static_cast<std::int32_t>(x > hi);",
      "   xb = (xb & ~(below | above)) | (lob & below) | (hib & above);",
      "   std::memcpy(&x, &xb, sizeof x);",
      "   const std::int32_t rounded = static_cast<std::int32_t>(x * 1.44269504088896341f + std::copysign(0.5f, x));",
      "   const std::int32_t n = rounded > 127 ? 127 : rounded;",
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
      "   float e = y * scale;",
      "   std::int32_t eb;",
      "   std::memcpy(&eb, &e, sizeof eb);",
      "   eb = (eb & ~(below | above)) | (0x7f800000 & above);",
      "   std::memcpy(&e, &eb, sizeof e);",
      "   return e;",
      "};",
      "auto sp_pick = [](bool c, float x, float y) -> float {",
      "   std::int32_t xb, yb;",
      "   std::memcpy(&xb, &x, sizeof xb);",
      "   std::memcpy(&yb, &y, sizeof yb);",
      "   const std::int32_t mask = -static_cast<std::int32_t>(c);",
      "   xb = (xb & mask) | (yb & ~mask);",
      "   std::memcpy(&x, &xb, sizeof x);",
      "   return x;",
      "};",
      "auto sp_sigmoid = [&sp_exp, &sp_pick](float x) -> float {",
      "   const float e = sp_exp(-std::abs(x)), q = e / (1.0f + e);",
      "   return sp_pick(x >= 0.0f, 1.0f - q, q);",
      "};",
      "auto sp_tanh = [&sp_exp, &sp_pick](float x) -> float {",
      "   const float a = std::abs(x), e = sp_exp(-2.0f * a), z = x * x;",
      "   float p = -5.70498872745e-3f;",
      "   p = p * z + 2.06390887954e-2f;",
      "   p = p * z - 5.37397155531e-2f;",
      "   p = p * z + 1.33314422036e-1f;",
      "   p = p * z - 3.33332819422e-1f;",
      "   return sp_pick(a < 0.625f, p * z * x + x, std::copysign(1.0f - 2.0f * e / (1.0f + e), x));",
      "};",
   };
   return Indented(kLines, indent);
}

std::string ElementwiseLambdas(const std::string &indent)
{
   // erf(x) = sign(x) (1 - e^w), w = P(u) - z^2, z = min(|x|, 3.92), u = z / 3.92, where P
   // (degree 11, P(0) = 0) fits log(erfc(z)) + z^2: tools/fit_erf.py made the coefficients
   // (absolute error 1.4e-7 against math.erf over the float range; beyond 3.92 erf is +-1 in
   // float). No division, and P and e^w by Estrin's scheme (pairs, then pairs of pairs)
   // rather than Horner's: the chain of dependent operations is short enough for the core
   // to overlap loop iterations (27% faster than the previous Numerical Recipes form,
   // erfc = t exp(...), t = 1 / (1 + z/2), which was also 3e-7 off). e^w is sp_exp
   // without its clamp (w is in [-18, 0]), rounding n down by -0.5 (w <= 0). |x| is clamped
   // on its bits (non-negative floats order as their bit patterns; an integer min
   // vectorises where a float ?: does not), NaN restored by setting all bits.
   // softplus: max(x, 0) + log1p(exp(-|x|)); log1p(u) for u in (0, 1] as log(w) u / (w - 1)
   // with w = 1 + u (exact for tiny u), log(w) for w in [1, 2] by a range split at sqrt(2)
   // and Cephes' logf polynomial.
   static const char *const kLines[] = {
      "auto sp_erf = [](float x) -> float {",
      "   const float a = std::abs(x), limit = 0x1.f5c29p+1f;",
      "   std::int32_t ab, lb;",
      "   std::memcpy(&ab, &a, sizeof ab);",
      "   std::memcpy(&lb, &limit, sizeof lb);",
      "   ab = std::min(ab, lb);",
      "   float z;",
      "   std::memcpy(&z, &ab, sizeof z);",
      "   const float u = z * 0x1.053978p-2f, u2 = u * u, u4 = u2 * u2, u8 = u4 * u4;",
      "   const float p01 = -0x1.1b168ap+2f * u, p23 = -0x1.8c6f54p+2f * u + 0x1.65614ep+2f;",
      "   const float p45 = 0x1.85db8cp-4f * u + 0x1.22e3bep+2f, p67 = 0x1.45f542p+3f * u - 0x1.8c42d6p+2f;",
      "   const float p89 = 0x1.65612ep+2f * u - 0x1.314afp+3f, pab = 0x1.27dcdcp-2f * u - 0x1.e71a0ap+0f;",
      "   const float p03 = p23 * u2 + p01, p47 = p67 * u2 + p45, p8b = pab * u2 + p89;",
      "   const float w = ((p47 * u4 + p03) + p8b * u8) - z * z;",
      "   const std::int32_t n = static_cast<std::int32_t>(w * 1.44269504088896341f - 0.5f);",
      "   const float fn = static_cast<float>(n);",
      "   const float r = (w - fn * 0.693359375f) + fn * 2.12194440e-4f, r2 = r * r;",
      "   const float e01 = 1.9875691500e-4f * r + 1.3981999507e-3f, e23 = 8.3334519073e-3f * r + 4.1665795894e-2f;",
      "   const float e45 = 1.6666665459e-1f * r + 5.0000001201e-1f;",
      "   const float y = ((e01 * r2 + e23) * r2 + e45) * r2 + r + 1.0f;",
      "   const std::int32_t bits = (n + 127) * 8388608;",
      "   float scale;",
      "   std::memcpy(&scale, &bits, sizeof scale);",
      "   float e = std::copysign(1.0f - y * scale, x);",
      "   std::int32_t eb;",
      "   std::memcpy(&eb, &e, sizeof eb);",
      "   eb |= -static_cast<std::int32_t>(x != x);",
      "   std::memcpy(&e, &eb, sizeof e);",
      "   return e;",
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
      // log(sigmoid(x)) = -softplus(-x): never clamped (logsigmoid(-100) = -100).
      "auto sp_logsigmoid = [&sp_softplus](float x) -> float { return -sp_softplus(-x); };",
      // GELU, tanh form: tanh's argument from x clamped to +-10, where tanh is +-1 in float
      // already (no x^3 overflow), times x as x * (0.5 + 0.5 t) (no 2x overflow); the result
      // picked on its bits, so that -ffast-math cannot reassociate x out of it.
      "auto sp_gelu_tanh = [&sp_tanh, &sp_pick](float x) -> float {",
      "   const float c = std::min(std::max(x, -10.0f), 10.0f);",
      "   const float h = 0.5f + 0.5f * sp_tanh(0x1.988454p-1f * (c + 0x1.6e4e26p-5f * (c * (c * c))));",
      "   return sp_pick((x <= -10.0f) & (x >= -0x1.fffffep+127f), -0.0f, x * h);",
      "};",
      "(void)sp_select;",
      "(void)sp_pick;",
      "(void)sp_sigmoid;",
      "(void)sp_tanh;",
      "(void)sp_erf;",
      "(void)sp_softplus;",
      "(void)sp_logsigmoid;",
      "(void)sp_gelu_tanh;",
   };
   return Indented(kLines, indent);
}

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE
