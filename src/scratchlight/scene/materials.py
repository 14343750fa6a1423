"""Metal presets: rough conductors (GGX microfacets) with measured complex indices of refraction.

Aluminium, copper and chrome use Mitsuba's tabulated spectral data ('Al', 'Cu', 'Cr'). Mitsuba
has no iron table, so steel uses the RGB-averaged complex IOR of iron (eta, k) at
650/550/450 nm. ``roughness`` is the GGX alpha (0 = mirror).
"""
from __future__ import annotations

__all__ = ["MATERIALS", "conductor_bsdf"]

MATERIALS = {
    "aluminium": {"material": "Al"},
    "steel": {"eta": (2.87, 2.95, 2.65), "k": (3.08, 2.93, 2.81)},
    "copper": {"material": "Cu"},
    "chrome": {"material": "Cr"},
}
_ALIASES = {"aluminum": "aluminium", "al": "aluminium", "fe": "steel", "iron": "steel",
            "cu": "copper", "cr": "chrome", "chromium": "chrome"}


def conductor_bsdf(material: str = "aluminium", roughness: float = 0.02) -> dict:
    """Mitsuba dict of a conductor BSDF; ``roughness`` (GGX alpha) 0 gives a smooth mirror."""
    name = _ALIASES.get(material.lower(), material.lower())
    if name not in MATERIALS:
        raise ValueError(f"unknown material {material!r}; choose from {', '.join(MATERIALS)}")
    if not (0.0 <= roughness <= 1.0):
        raise ValueError(f"roughness must be in [0, 1], got {roughness}")
    spec = dict(MATERIALS[name])
    for key in ("eta", "k"):
        if key in spec:
            spec[key] = {"type": "rgb", "value": list(spec[key])}
    if roughness == 0.0:
        return {"type": "conductor", **spec}
    return {"type": "roughconductor", "distribution": "ggx", "alpha": float(roughness), **spec}
