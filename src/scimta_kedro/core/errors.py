"""The error every input and parameter check raises."""


class InputError(ValueError):
    """The input data or a parameter that describes it cannot be used as given."""
