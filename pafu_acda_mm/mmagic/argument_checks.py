"""Argument checks shared by the mmagic networks."""


def check_positive_int(name: str, value) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an int >= 1
    (``bool`` excluded)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f'{name} must be an int >= 1, got {value!r}')
