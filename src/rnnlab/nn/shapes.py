"""Input checks whose messages teach: the component, what was expected, what came, and the likely cause.

Shapes (the ``batch_first`` pitfall) and dtypes (a float64 or int64 input to float32 weights).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _fmt(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + (",)" if len(shape) == 1 else ")")


def check_input(name: str, x: Tensor, input_size: int, batch_first: bool) -> None:
    """``x`` must be ``(L, H_in)`` unbatched, or ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``)."""
    if x.dim() not in (2, 3):
        layout = "(batch, seq_len, input_size)" if batch_first else "(seq_len, batch, input_size)"
        raise ValueError(
            f"{name}: input must have 2 dimensions (seq_len, input_size) or 3 dimensions {layout}; "
            f"got {x.dim()} dimensions with shape {_fmt(x.shape)}"
        )
    if x.shape[-1] != input_size:
        hint = ""
        if x.dim() == 3 and input_size in tuple(x.shape[:2]):
            hint = (
                f"; the features are the last dimension, so an input of shape {_fmt(x.shape)} "
                "probably needs a transpose"
            )
        raise ValueError(
            f"{name}: input.size(-1) must be equal to input_size. Expected {input_size}, got {x.shape[-1]} "
            f"(input shape {_fmt(x.shape)}){hint}"
        )


def check_state(
    name: str, what: str, state: Tensor, expected: tuple[int, ...], x: Tensor, batch_first: bool
) -> None:
    """``state`` (``h0`` or ``c0``) must have shape ``expected``; explain the batch_first pitfall when it fits."""
    if tuple(state.shape) == tuple(expected):
        return
    layers_dirs, batch, hidden = (None, *expected) if len(expected) == 2 else expected
    if len(expected) == 2:
        layout = f"(num_layers * num_directions={expected[0]}, hidden_size={expected[1]}) for an unbatched input"
    else:
        layout = f"(num_layers * num_directions={layers_dirs}, batch={batch}, hidden_size={hidden})"
    message = f"{name}: {what} has shape {_fmt(state.shape)} but expected {_fmt(expected)}, i.e. {layout}"
    if x.dim() == 3 and state.dim() == 3 and x.shape[0] != x.shape[1]:
        seq, other = (x.shape[1], x.shape[0]) if batch_first else (x.shape[0], x.shape[1])
        if state.shape[1] == seq and state.shape[0] == expected[0] and state.shape[2] == expected[2]:
            # the state's batch matches what the input's batch would be under the other layout
            flip = not batch_first
            message += (
                f". With batch_first={batch_first} the input of shape {_fmt(x.shape)} is read as "
                f"seq_len={seq}, batch={other}, input_size={x.shape[2]}; if you meant batch {state.shape[1]} "
                f"and {other} time steps, pass batch_first={flip} or an input of shape "
                f"{_fmt((x.shape[1], x.shape[0], x.shape[2]))}"
            )
    raise ValueError(message)


def check_dtype(name: str, what: str, x: Tensor, weight_dtype: torch.dtype) -> None:
    """``x`` must have the weights' dtype: matrix products do not mix dtypes, and torch's own message
    ("expected m1 and m2 to have the same dtype") names neither the layer nor the fix.

    Args:
        name: the component (``"RNN"``, ``"LSTMCell"``, ...).
        what: ``"input"``, ``"h0"``, ``"c0"``, ``"hx"`` or ``"cx"``.
        x: the tensor given.
        weight_dtype: the dtype of the component's parameters.
    """
    if x.dtype == weight_dtype or torch._C._is_any_autocast_enabled():  # autocast casts inside (as torch.nn)
        return
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        # integers (e.g. character ids) or booleans: values, not features
        raise ValueError(
            f"{name}: {what} has dtype {x.dtype} but the weights are {weight_dtype}; a recurrent layer reads "
            f"floating-point features: convert with {what}.to({weight_dtype}) (integer ids such as characters go "
            f"through an nn.Embedding first, as rnnlab.models.CharLM does)"
        )
    raise ValueError(
        f"{name}: {what} has dtype {x.dtype} but the weights are {weight_dtype}; convert the {what} with "
        f"{what}.to({weight_dtype}), or the layer with .to({x.dtype}) to compute in {x.dtype}"
    )
