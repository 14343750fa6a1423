"""Fitting the light (and the roughness) of a height-map scene to target images: inverse
rendering with Adam on an adaptively sampled subset of the pixels."""
