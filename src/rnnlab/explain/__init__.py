"""The lesson's "why", each as numbers and a figure: one module per explanation, each returning a result
object with plain numbers, ``.plot()`` (matplotlib figures), ``.summary()`` (text) and ``.save(run_dir)``
(``config.json``, ``metrics.json``, PNG figures and ``report.html``).

- :func:`hidden_states` — every layer's ``h_t`` for an input (:mod:`rnnlab.explain.hidden`);
- :func:`gradient_flow` — ``‖∂L/∂h_t‖`` against the distance from the loss, RNN vs LSTM vs GRU
  (:mod:`rnnlab.explain.gradients`);
- :func:`memory_horizon` — the adding problem's error against the distance to remember, RNN vs LSTM vs GRU
  (:mod:`rnnlab.explain.memory`);
- :func:`lookback_effect` — the lesson's sine model against its lookback (:mod:`rnnlab.explain.lookback`).

Example:
    >>> from rnnlab.explain import LookbackConfig, lookback_effect
    >>> result = lookback_effect(LookbackConfig(lookbacks=(1, 10), epochs=20))
    >>> sorted(row["lookback"] for row in result.rows)
    [1, 10]
"""

from rnnlab.explain.gradients import QUICK as GRADIENTS_QUICK, GradientFlow, GradientsConfig, gradient_flow
from rnnlab.explain.hidden import HiddenConfig, HiddenStates, default_model, hidden_states, saved_forecaster
from rnnlab.explain.lookback import LookbackConfig, LookbackEffect, lookback_effect
from rnnlab.explain.memory import QUICK as MEMORY_QUICK, MemoryConfig, MemoryHorizon, memory_horizon

__all__ = ["GradientFlow", "GradientsConfig", "gradient_flow", "HiddenConfig", "HiddenStates", "default_model",
           "hidden_states", "saved_forecaster", "LookbackConfig", "LookbackEffect", "lookback_effect",
           "MemoryConfig", "MemoryHorizon", "memory_horizon", "GRADIENTS_QUICK", "MEMORY_QUICK"]
