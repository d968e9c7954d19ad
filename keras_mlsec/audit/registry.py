"""The registry of audit sections: each threat check is one small function.

A section is a function `section(context) -> SectionResult` registered with
`register_section`; `keras_mlsec.audit(...)` runs every registered section
in order. To add one (e.g. a backdoor scan once it lands), write a module in
keras_mlsec/audit/ with::

    @register_section("backdoor", threat="training_time",
                      title="Backdoor scan (Neural Cleanse)")
    def backdoor(context):
        if not context.is_image:
            return context.not_run("backdoor", "Neural Cleanse needs image inputs")
        ...
        return context.result("backdoor", status="passed", summary=..., evidence=...)

and add the module's path to `SECTION_MODULES` in keras_mlsec/audit/runner.py.
"""

THREATS = {
    "training_time": "Training-time attacks (poisoning, backdoors)",
    "inference_time": "Inference-time attacks (evasion)",
    "extraction": "Model extraction (stealing)",
    "privacy": "Privacy (membership inference, model inversion)",
    "mlops": "MLOps security (model file, data drift)",
    "responsible_ai": "Responsible AI (fairness, explanations)",
}

SECTIONS = {}
"""`{name: (threat, title, function)}` in registration order."""


def register_section(name, *, threat, title):
    """Decorator registering `function(context) -> SectionResult` as audit section `name`.

    Raises:
        ValueError: for an unknown threat or a name registered twice.
    """
    if threat not in THREATS:
        raise ValueError(f"Expected `threat` to be one of {list(THREATS)}. Received: "
                         f"threat={threat!r}")

    def decorate(function):
        if name in SECTIONS and SECTIONS[name][2] is not function:
            raise ValueError(f"Expected a new section name. Received: name={name!r}, "
                             "already registered")
        SECTIONS[name] = (threat, title, function)
        return function

    return decorate
