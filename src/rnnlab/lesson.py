"""The RNN lesson, run for real: each step's code executed, its output printed and explained.

``rnnlab lesson`` (or :func:`run`) walks the classic lesson in order:

(a) the hidden state of an RNN on the input ``[1, 2, 3, 4]`` — first the lesson's call as written, which
    trips over ``batch_first``, then the fixed call, and the four states recomputed by hand from
    ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``;
(b) the lesson's ``SimpleRNN`` on a sine wave (sequences of length 1, hidden 20, Adam 0.01, MSE, 100
    full-batch epochs, seed 42), with the losses the lesson printed beside ours;
(c) the two-layer ``MultiLayerRNN``, trained the same way;
(d) next-character prediction on a short text, and the model's top guesses for a prompt.

The training loops here are the lesson's own few lines, kept visible on purpose; real training goes
through :mod:`rnnlab.train`. Every step ends with the ``rnnlab explain`` command that shows *why*.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import TextIO

import torch
from torch import nn

from rnnlab import nn as rnn
from rnnlab import threads
from rnnlab.models import CharLM, SequenceRegressor
from rnnlab.optim import AdamW

# The losses the lesson printed for its SimpleRNN at epochs 1, 50 and 100.
LESSON_LOSSES = {1: 0.5, 50: 0.1, 100: 0.05}

# A short text for step (d): the lesson's point about sequences, in a few sentences.
TEXT = (
    "a recurrent network reads a sequence one step at a time. "
    "at every step it mixes the new input with its hidden state, "
    "and the hidden state carries what it has seen so far. "
    "the same weights are used at every step, so the network can read a sequence of any length. "
)
PROMPT = "the hidden st"


@dataclass
class LessonResult:
    """The numbers the lesson printed."""

    pitfall_message: str = ""  # the explained error of the lesson's call as written
    hidden_states: list[float] = field(default_factory=list)  # h_1..h_4 from the layer
    hidden_by_hand: list[float] = field(default_factory=list)  # h_1..h_4 from the equation, in plain Python
    simple_losses: dict[int, float] = field(default_factory=dict)  # SimpleRNN training MSE at epochs 1, 50, 100
    multi_losses: dict[int, float] = field(default_factory=dict)  # the two-layer RNN's, likewise
    char_loss: float = 0.0  # final next-character cross-entropy (nats)
    guesses: list[tuple[str, float]] = field(default_factory=list)  # top next characters after PROMPT


def run(seed: int = 42, out: TextIO | None = sys.stdout) -> LessonResult:
    """Run the lesson's four steps; print them to ``out`` (``None`` for silence) and return the numbers."""
    say = (lambda *lines: print(*lines, sep="\n", file=out)) if out is not None else (lambda *lines: None)
    result = LessonResult()
    threads.choose()  # as training does: on a busy machine torch's second thread only waits (rnnlab.threads)
    _hidden_state_demo(seed, say, result)
    _sine(seed, say, result)
    _next_character(seed, say, result)
    say("", "That is the lesson. Each `rnnlab explain ...` above draws its figure into a run directory.",
        "Its one claim about long sequences, checked rather than asserted: `rnnlab explain memory` trains RNN,",
        "LSTM and GRU to recall a symbol through distractors, and `rnnlab explain gradients` measures",
        "|dL/dh_(T-k)| in the trained networks; each ends with one sentence saying whether the claim held.")
    return result


def _hidden_state_demo(seed: int, say, result: LessonResult) -> None:
    say("(a) The hidden state, step by step", "-" * 36)
    torch.manual_seed(seed)
    layer = rnn.RNN(input_size=1, hidden_size=1)
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)  # the lesson: one sequence of 4 values
    h0 = torch.zeros(1, 1, 1)
    say("The lesson's call:  rnn = RNN(input_size=1, hidden_size=1);  rnn(x of shape (1, 4, 1), h0 of shape (1, 1, 1))")
    try:
        layer(x, h0)
    except ValueError as e:
        result.pitfall_message = str(e)
        say(f"  -> ValueError: {e}")
    fixed = rnn.RNN(input_size=1, hidden_size=1, batch_first=True)
    fixed.load_state_dict(layer.state_dict())
    say("Fixed: the same weights with batch_first=True, so (1, 4, 1) reads as batch 1, 4 steps, 1 feature.")
    with torch.no_grad():
        output, h_n = fixed(x, h0)  # output (1, 4, 1): h_t for every t; h_n (1, 1, 1): the last one
    result.hidden_states = output.flatten().tolist()
    w_ih, w_hh = fixed.weight_ih_l0.item(), fixed.weight_hh_l0.item()
    b_ih, b_hh = fixed.bias_ih_l0.item(), fixed.bias_hh_l0.item()
    say(f"  W_ih = {w_ih:+.4f}  b_ih = {b_ih:+.4f}  W_hh = {w_hh:+.4f}  b_hh = {b_hh:+.4f}")
    h_prev = 0.0
    for t, x_t in enumerate([1.0, 2.0, 3.0, 4.0], start=1):
        # h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), in plain Python
        h_t = math.tanh(w_ih * x_t + b_ih + w_hh * h_prev + b_hh)
        result.hidden_by_hand.append(h_t)
        say(f"  t={t}  x_t={x_t:.0f}  layer h_t={result.hidden_states[t - 1]:+.6f}   by hand: "
            f"tanh({w_ih:+.3f}*{x_t:.0f} {b_ih:+.3f} {w_hh:+.3f}*{h_prev:+.3f} {b_hh:+.3f}) = {h_t:+.6f}")
        h_prev = h_t
    say(f"  output {tuple(output.shape)} holds every h_t; h_n {tuple(h_n.shape)} is the last one.",
        "  See it for a trained model: rnnlab explain hidden", "")


def _sine_data() -> tuple[torch.Tensor, torch.Tensor]:
    """The lesson's data: x_t = sin t on 100 points of [0, 20]; predict x_{t+1} from x_t alone."""
    t = torch.linspace(0, 20, 100)
    wave = torch.sin(t)
    inputs = wave[:-1].reshape(-1, 1, 1)  # (99, L=1, 1): sequences of length 1
    targets = wave[1:].reshape(-1, 1)  # (99, 1)
    return inputs, targets


def _train_full_batch(model: nn.Module, inputs, targets, epochs: int = 100, lr: float = 0.01) -> dict[int, float]:
    """The lesson's loop: Adam (:class:`rnnlab.optim.AdamW` without decay), MSE, full batch; returns the loss at
    epochs 1, 50 and 100."""
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    losses = {}
    for epoch in range(1, epochs + 1):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        if epoch in LESSON_LOSSES:
            losses[epoch] = loss.item()
    return losses


def _sine(seed: int, say, result: LessonResult) -> None:
    say("(b) SimpleRNN on a sine wave", "-" * 28)
    inputs, targets = _sine_data()
    say(f"  t = linspace(0, 20, 100), x = sin t; inputs {tuple(inputs.shape)} (batch, seq_len=1, 1), "
        f"targets {tuple(targets.shape)}")
    torch.manual_seed(seed)
    simple = SequenceRegressor(input_size=1, hidden_size=20, output_size=1)
    result.simple_losses = _train_full_batch(simple, inputs, targets)
    for epoch, loss in result.simple_losses.items():
        say(f"  epoch {epoch:3d}: MSE {loss:.4f}   (the lesson printed {LESSON_LOSSES[epoch]})")
    say("  With one value per sequence the model cannot tell a rising sin t from a falling one:",
        "  the same input has two different next values. A longer lookback fixes that:",
        "  rnnlab explain lookback", "")

    say("(c) MultiLayerRNN: two stacked layers, trained the same way", "-" * 58)
    torch.manual_seed(seed)
    multi = SequenceRegressor(input_size=1, hidden_size=20, output_size=1, num_layers=2)
    result.multi_losses = _train_full_batch(multi, inputs, targets)
    for epoch, loss in result.multi_losses.items():
        say(f"  epoch {epoch:3d}: MSE {loss:.4f}")
    say("  Depth adds capacity per step, not memory across steps; gradients through many steps vanish",
        "  for a plain RNN and survive in an LSTM: rnnlab explain gradients", "")


def _next_character(seed: int, say, result: LessonResult, steps: int = 200) -> None:
    say("(d) Next-character prediction", "-" * 29)
    vocab = sorted(set(TEXT))
    index = {ch: i for i, ch in enumerate(vocab)}
    encoded = torch.tensor([index[ch] for ch in TEXT])
    inputs, targets = encoded[:-1].unsqueeze(0), encoded[1:].unsqueeze(0)  # (1, L): one long sequence
    torch.manual_seed(seed)
    model = CharLM(vocab_size=len(vocab), embedding_size=16, hidden_size=64, num_layers=1, cell="rnn")
    optimizer = AdamW(model.parameters(), lr=0.01, weight_decay=0.0)
    for _ in range(steps):
        optimizer.zero_grad()
        logits, _ = model(inputs)  # (1, L, V)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        loss.backward()
        optimizer.step()
    result.char_loss = loss.item()
    say(f"  {len(TEXT)} characters, {len(vocab)} distinct; a 64-unit RNN, {steps} full-sequence steps: "
        f"cross-entropy {result.char_loss:.3f} nats/char")
    model.eval()
    with torch.no_grad():
        logits, _ = model(torch.tensor([[index[ch] for ch in PROMPT]]))
        probs = torch.softmax(logits[0, -1], dim=0)
    top = torch.topk(probs, 3)
    result.guesses = [(vocab[i], p) for p, i in zip(top.values.tolist(), top.indices.tolist())]
    guesses = ", ".join(f"{ch!r} {p:.2f}" for ch, p in result.guesses)
    say(f"  after {PROMPT!r} the model guesses: {guesses}",
        "  Train one on your own text: rnnlab text --data FILE; how far back can each cell remember:",
        "  rnnlab explain memory")
