"""The Python API under the same faults: clear ``ValueError``s naming the component, never a wrong result.

Kinds 2 and 5: layers given float64 or int64 input, strings that look like paths, directories, damaged or
changed files read by the library itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnlab.nn as rnn
from rnnlab import CharModel, Forecaster
from rnnlab.data.text import Corpus

LAYERS = [rnn.RNN, rnn.LSTM, rnn.GRU, rnn.RNNCell, rnn.LSTMCell, rnn.GRUCell]


@pytest.mark.parametrize("dtype", [torch.float64, torch.int64, torch.float16])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda c: c.__name__)
def test_k5_a_layer_given_another_dtype_names_itself_the_dtypes_and_the_fix(layer, dtype):
    x = torch.zeros(2, 3, dtype=dtype) if "Cell" in layer.__name__ else torch.zeros(4, 2, 3, dtype=dtype)
    with pytest.raises(ValueError) as info:
        layer(3, 5)(x)
    message = str(info.value)
    assert message.startswith(f"{layer.__name__}: input has dtype {dtype} but the weights are torch.float32")
    assert "input.to(torch.float32)" in message


@pytest.mark.parametrize("source", ["/no/such/file.txt", "missing.txt", "corpora/missing"])
def test_k5_charmodel_fit_on_a_missing_path_says_so(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=f"text: file not found: {source}"):
        CharModel(hidden_size=8, num_layers=1, batch_size=2, seq_len=8, quiet=True).fit(source, steps=1)
    assert list(tmp_path.iterdir()) == []


def test_k5_charmodel_fit_on_a_directory_says_so(tmp_path):
    with pytest.raises(ValueError, match="is a directory, not a text file"):
        CharModel(quiet=True).fit(str(tmp_path), steps=1)


@pytest.mark.parametrize("hidden", [200_000, 10**6])
def test_k5_an_absurd_model_is_refused_before_allocation(hidden):
    with pytest.raises(ValueError, match=r"training needs at least .* of memory but the cpu has"):
        CharModel(hidden_size=hidden, quiet=True).fit("abc\n" * 4000, steps=1)
    with pytest.raises(ValueError, match=r"training needs at least .* of memory but the cpu has"):
        Forecaster(hidden_size=hidden, epochs=1, quiet=True).fit(np.sin(np.arange(300) / 4))


@pytest.mark.parametrize("change", ["grow", "shrink", "flip", "odd-size"])
def test_k2_a_changed_corpus_is_never_reopened(tmp_path, change):
    built = Corpus.build("the cat sat on the mat\n" * 200, out=tmp_path / "corpus.bin")
    record = built.to_dict()
    data = built.path.read_bytes()
    damaged = {"grow": data + data[:7], "shrink": data[:-7], "flip": data[:9] + bytes([data[9] ^ 4]) + data[10:],
               "odd-size": data}[change]
    built.path.write_bytes(damaged)
    vocab = built.vocab
    if change == "odd-size":  # a uint16 reading of a uint8 file of odd length: not whole ids
        from rnnlab.data.text import Vocab

        vocab = Vocab([chr(0x100 + i) for i in range(300)])
        built.path.write_bytes(data + b"\x00")
    with pytest.raises(ValueError, match="start a new run"):
        Corpus.open(built.path, vocab, n_chars=record["n_chars"], sha256=record["sha256"])
