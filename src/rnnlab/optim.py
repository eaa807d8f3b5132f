"""Adam with decoupled weight decay (AdamW): ``torch.optim.AdamW``'s arithmetic and ``state_dict``, without its cost.

Every ``torch.optim`` optimizer imports ``torch._dynamo`` when it is built (its ``_disable_dynamo``
wrappers) and when it steps: 3.3 s of a 12 s ``rnnlab forecast`` on an idle 2-core machine (issue 19),
for a compiler that a CPU training loop never calls. This one is the same update written out, so that
importing and running it costs nothing beyond the arithmetic.

For parameter θ with gradient g at update t (1-based), learning rate η, weight decay λ, betas β₁, β₂:

    θ ← θ · (1 − η λ)                                  (decoupled decay; skipped when λ = 0, i.e. Adam)
    m ← m + (1 − β₁) (g − m)                           (m.lerp_(g, 1 − β₁))
    v ← β₂ v + (1 − β₂) g²
    θ ← θ − η / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

in the order and with the operations of torch's single-tensor implementation (the one it uses for CPU
tensors), so the result matches ``torch.optim.AdamW`` to the last bit on the CPU (``tests/test_optim.py``
compares them). The ``state_dict`` has torch's layout — ``{"state": {i: {"step", "exp_avg", "exp_avg_sq"}},
"param_groups": [{"lr", "betas", "eps", "weight_decay", …, "params": [i, …]}]}`` — so checkpoints written
with ``torch.optim.AdamW`` load here and the other way round. Not supported: ``amsgrad``, ``maximize``,
complex parameters, sparse gradients (the training loop uses none of them).

Example:
    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.0)
    >>> (w * w).sum().backward(); opt.step()
    >>> [round(v, 6) for v in w.tolist()]  # Adam's first step: every coordinate lr against its gradient's sign
    [0.9, -1.9]
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import Tensor

# torch.optim.AdamW's param_group keys, with the values this implementation always has
_TORCH_GROUP_FLAGS = {"amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                      "differentiable": False, "fused": None, "decoupled_weight_decay": True}


class AdamW:
    """AdamW (Loshchilov & Hutter, 2019) over one group of parameters; Adam where ``weight_decay`` is 0.

    Args:
        params: the parameters to update (those whose ``grad`` is None at a step are left alone).
        lr: the learning rate η; the training loop sets ``param_groups[0]["lr"]`` before each step.
        betas: (β₁, β₂), the decay rates of the first and second moment estimates.
        eps: ε, added to the denominator.
        weight_decay: λ, decoupled (the parameter shrinks by η λ of itself each step).
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        params = list(params)
        if not params:
            raise ValueError("AdamW: got an empty parameter list")
        if not lr >= 0 or not eps >= 0 or not weight_decay >= 0:
            raise ValueError(f"AdamW: lr, eps and weight_decay must be >= 0, got {lr!r}, {eps!r}, {weight_decay!r}")
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"AdamW: betas must be in [0, 1), got {betas!r}")
        self.param_groups = [{"params": params, "lr": lr, "betas": tuple(betas), "eps": eps,
                              "weight_decay": weight_decay, **_TORCH_GROUP_FLAGS}]
        self.state: dict[Tensor, dict[str, Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) every parameter's gradient."""
        for p in self.param_groups[0]["params"]:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient (see the module docstring for the equations)."""
        group = self.param_groups[0]
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        for param in group["params"]:
            grad = param.grad
            if grad is None:
                continue
            if grad.is_sparse:
                raise RuntimeError("AdamW: sparse gradients are not supported")
            state = self.state.get(param)
            if state is None:
                state = self.state[param] = {"step": torch.tensor(0.0),
                                             "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                                             "exp_avg_sq": torch.zeros_like(param,
                                                                            memory_format=torch.preserve_format)}
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            state["step"] += 1
            step = state["step"].item()
            if weight_decay != 0:
                # θ ← θ · (1 − η λ)
                param.mul_(1 - lr * weight_decay)
            # m ← m + (1 − β₁)(g − m);  v ← β₂ v + (1 − β₂) g²
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            # θ ← θ − η / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
            step_size = lr / (1 - beta1**step)
            denom = (exp_avg_sq.sqrt() / (1 - beta2**step) ** 0.5).add_(eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)

    def state_dict(self) -> dict[str, Any]:
        """torch's layout: per-parameter state keyed by the parameter's index, and the group's settings."""
        group = self.param_groups[0]
        index = {id(p): i for i, p in enumerate(group["params"])}
        return {"state": {index[id(p)]: dict(s) for p, s in self.state.items()},
                "param_groups": [{**{k: v for k, v in group.items() if k != "params"},
                                  "params": list(range(len(group["params"])))}]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a :meth:`state_dict` (ours or ``torch.optim.Adam``/``AdamW``'s): moments onto each parameter's
        device and dtype, the group's settings (``lr``, ``betas``, ``eps``, ``weight_decay``) as saved.

        Raises:
            ValueError: a state of another shape of model (group or parameter counts, or a moment's shape).
        """
        groups = state_dict.get("param_groups", [])
        params = self.param_groups[0]["params"]
        if len(groups) != 1 or len(groups[0].get("params", [])) != len(params):
            counts = [len(g.get("params", [])) for g in groups]
            raise ValueError(f"AdamW: the saved state has parameter groups of sizes {counts}, this optimizer "
                             f"one group of {len(params)}")
        saved = groups[0]
        if saved.get("amsgrad") or saved.get("maximize"):
            raise ValueError("AdamW: the saved state uses amsgrad or maximize, which this optimizer does not")
        state: dict[Tensor, dict[str, Tensor]] = {}
        for position, key in enumerate(saved["params"]):
            entry = state_dict.get("state", {}).get(key)
            if entry is None:
                continue
            param = params[position]
            moments = {name: entry[name] for name in ("exp_avg", "exp_avg_sq")}
            for name, value in moments.items():
                if value.shape != param.shape:
                    raise ValueError(f"AdamW: the saved {name} of parameter {position} has shape "
                                     f"{tuple(value.shape)}, the parameter {tuple(param.shape)}")
            state[param] = {"step": torch.as_tensor(entry["step"], dtype=torch.float32).clone(),
                            **{name: value.to(param.device, param.dtype, copy=True) for name, value in moments.items()}}
        self.state = state
        group = self.param_groups[0]
        group.update({k: saved[k] for k in ("lr", "eps", "weight_decay") if k in saved})
        if "betas" in saved:
            group["betas"] = tuple(saved["betas"])
