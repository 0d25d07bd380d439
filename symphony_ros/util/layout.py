"""Where each named term of a flat vector lies, for every layout written as (name, size)."""

from typing import Dict, Iterable, Tuple


def term_slices(terms: Iterable[Tuple[str, int]]) -> Dict[str, slice]:
    """Return term name -> its slice of a vector whose terms follow each other in order.

    The observation spec, the contract read from a policy file and the randomiser all lay
    out a vector this way; one function keeps their offsets from disagreeing.
    """
    out, start = {}, 0
    for name, size in terms:
        out[name] = slice(start, start + int(size))
        start += int(size)
    return out


__all__ = ['term_slices']
