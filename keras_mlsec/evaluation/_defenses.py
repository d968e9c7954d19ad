"""Finds this package's defense layers inside a model, for honest (BPDA/EOT) evaluation."""


def find_defenses(model):
    """Defense layers of `keras_mlsec.defenses` in `model`, walking nested models.

    Returns:
        A list of dicts {"layer", "class", "stochastic", "gradient"}: deterministic
        layers are attacked through their straight-through (BPDA) gradient,
        random ones (`stochastic = True`) with EOT.
    """
    from keras_mlsec import defenses

    classes = tuple(getattr(defenses, name) for name in defenses.__all__
                    if isinstance(getattr(defenses, name), type))
    found, seen = [], set()

    def walk(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if isinstance(layer, classes):
            stochastic = bool(getattr(layer, "stochastic", False))
            found.append({"layer": layer.name, "class": type(layer).__name__,
                          "stochastic": stochastic,
                          "gradient": "EOT" if stochastic else "BPDA (straight-through)"})
        for child in getattr(layer, "layers", None) or []:
            walk(child)

    walk(model)
    return found
