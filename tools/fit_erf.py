"""Fit the polynomial of the generated code's erf (src/operators/GeneratedMath.cxx).

erf(x) = sign(x) (1 - exp(P(u) - z^2)), z = min(|x|, 3.92), u = z / 3.92, where P fits
log(erfc(z)) + z^2, a smooth function with P(0) = 0: least squares on a Chebyshev basis in
double precision (P = u * Q(u), so that erf(0) is exactly 0), printed as float hexadecimal
literals, lowest degree first, with the largest error of the float evaluation against
math.erf. Beyond 3.92, erf rounds to +-1 in float. Run: python tools/fit_erf.py
"""

from __future__ import annotations

import math

import numpy as np

LIMIT, DEGREE = 3.92, 11


def _literal(value: np.float32) -> str:
    """A C++ hexadecimal float literal (exact)."""
    if value == 0:
        return "0.0f"
    mantissa, exponent = float(value).hex().split("p")
    return f"{mantissa.rstrip('0').rstrip('.')}p{exponent}f"


def main() -> None:
    z = np.linspace(0.0, LIMIT, 20001)
    u = z / LIMIT
    g = np.log([math.erfc(v) for v in z]) + z * z
    # P(u) = u * Q(u): fit Q to g / u away from 0, in Chebyshev form on [0, 1]
    keep = u > 0
    q = np.polynomial.chebyshev.chebfit(2 * u[keep] - 1, g[keep] / u[keep], DEGREE - 1,
                                        w=u[keep])
    monomial = np.polynomial.Polynomial(np.polynomial.chebyshev.cheb2poly(q))
    p = (monomial(np.polynomial.Polynomial([-1, 2])) * np.polynomial.Polynomial([0, 1])).coef
    coefficients = p.astype(np.float32)
    x = np.linspace(-6, 6, 600001, dtype=np.float32)
    zz = np.minimum(np.abs(x), np.float32(LIMIT))
    uu = zz * np.float32(1 / LIMIT)
    acc = np.float32(0)
    for c in coefficients[::-1]:
        acc = (acc * uu + c).astype(np.float32)
    approx = np.copysign(np.float32(1) - np.exp((acc - zz * zz).astype(np.float32)), x)
    error = np.max(np.abs(approx - np.array([math.erf(v) for v in x.astype(np.float64)])))
    print("1/LIMIT:", _literal(np.float32(1 / LIMIT)), "LIMIT:", _literal(np.float32(LIMIT)))
    print(", ".join(_literal(c) for c in coefficients))
    print(f"largest absolute error: {error:.3g}")


if __name__ == "__main__":
    main()
