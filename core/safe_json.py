"""JSON from strangers: every way a body can be malformed is one ValueError.

Python's decoder lets several hostile inputs escape as something other than ValueError
or pass through to crash whatever reads the value next:

- deep nesting (`[[[[…`) raises RecursionError inside the decoder, and nesting just
  shallow enough to decode still breaks recursive code after it (serializers,
  `json.dumps` into a JSONField), so the depth is bounded here;
- a number literal of thousands of digits is slow to convert and one over Python's
  int-from-string limit raises ValueError; a 400-digit one decodes, then raises
  OverflowError as soon as anything turns it into a float, so literals are bounded;
- NaN, Infinity and literals such as 1e999 (which decode to inf) are not JSON numbers.

Used by the API's parser (core.parsers), the Daraja callback view and the simulator.
"""

import json
import math
from typing import Any

# Deeper than any body we accept (an STK callback is 5 levels, a booking 3).
MAX_DEPTH = 32
# Characters in one number literal: more than any id, amount or coordinate needs,
# well under what makes int() slow. Fields that are converted apply tighter bounds.
MAX_NUMBER_LENGTH = 64


class JSONInvalid(ValueError):
    pass


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise JSONInvalid(f"a number longer than {MAX_NUMBER_LENGTH} characters")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise JSONInvalid(f"a number longer than {MAX_NUMBER_LENGTH} characters")
    value = float(text)
    if not math.isfinite(value):
        raise JSONInvalid(f"{text} is out of range")
    return value


def _reject_constant(name: str):
    raise JSONInvalid(f"{name} is not valid JSON")


def _check_depth(value: Any) -> None:
    """Iterative, so it cannot itself run out of stack."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise JSONInvalid(f"nested deeper than {MAX_DEPTH} levels")
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def loads(data: str | bytes | bytearray) -> Any:
    """json.loads, raising JSONInvalid (a ValueError) for anything that is not sane JSON."""
    try:
        value = json.loads(
            data, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant
        )
    except RecursionError:
        raise JSONInvalid(f"nested deeper than {MAX_DEPTH} levels") from None
    except JSONInvalid:
        raise
    except ValueError as error:  # also UnicodeDecodeError and the int digit limit
        raise JSONInvalid(str(error)) from None
    except TypeError as error:
        raise JSONInvalid(str(error)) from None
    _check_depth(value)
    return value
