"""The one exception the watchdog's input checks raise."""


class Rejected(ValueError):
    """An input message is refused as a whole; the text says why."""
