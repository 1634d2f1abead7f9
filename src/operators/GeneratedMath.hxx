// Activation functions written into the generated code by our own operators.
//
// The engine's recurrent operators call std::exp in double precision, one element at a
// time: g++ cannot vectorise such loops without -ffast-math. These float versions are
// branch-free (range reduction, polynomial, exponent bits), so the loops that use them
// vectorise at -O2/-O3 with any -march, and stay correct under -ffast-math.
#ifndef SOFIE_PYTORCH_OPERATORS_GENERATEDMATH_HXX
#define SOFIE_PYTORCH_OPERATORS_GENERATEDMATH_HXX

#include <string>

namespace SOFIE {
namespace PyTorch {
namespace operators {

/// A float constant as C++ source, exact (hexadecimal), NaN and infinities included (those
/// need <limits>).
std::string FloatLiteral(float v);

/// C++ source declaring the lambdas sp_select(bool, x, y) (evaluates both of its operands
/// before selecting, so that g++ if-converts the selection and vectorises the loop around
/// it), sp_exp, sp_sigmoid and sp_tanh (float -> float), each line starting with `indent`.
/// Saturated exactly at both ends of the float range, under -ffast-math too. Needs <cmath>,
/// <cstdint> and <cstring>.
std::string ActivationLambdas(const std::string &indent);

/// C++ source declaring sp_erf, sp_softplus and sp_logsigmoid (float -> float; they use
/// ActivationLambdas': declare those first); every lambda of both sets is marked used.
std::string ElementwiseLambdas(const std::string &indent);

} // namespace operators
} // namespace PyTorch
} // namespace SOFIE

#endif
