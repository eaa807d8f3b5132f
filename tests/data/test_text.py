"""rnnlab.data.text: vocabulary, chunked encoding behind a memory map, splits, TBPTT streams."""

import codecs
import hashlib
import io
import sys
import types

import numpy as np
import pytest

from rnnlab.data import text as dt
from rnnlab.data import text_sources as sources
from rnnlab.data.text import Corpus, Vocab, stream_batches

UNICODE = "Grüße, 世界! 🙂 naïve café\n" * 50


def oracle_ids(text):
    chars = sorted(set(text))
    return np.array([chars.index(c) for c in text])


def test_vocab_sorted_round_trip_and_dtype():
    v = Vocab(set(UNICODE))
    assert v.chars == sorted(set(UNICODE))
    assert v.decode(v.encode(UNICODE)) == UNICODE
    np.testing.assert_array_equal(v.encode(UNICODE), oracle_ids(UNICODE))
    assert v.dtype == np.uint8
    assert Vocab([chr(0x100 + i) for i in range(300)]).dtype == np.uint16
    assert Vocab([chr(0x100 + i) for i in range(70_000)]).dtype == np.int32


def test_vocab_names_unseen_characters():
    v = Vocab("abc")
    assert v.unknown("abxzy😀a") == ["x", "y", "z", "😀"]
    with pytest.raises(ValueError, match=r"prime has 2 character\(s\) the model has never seen: 'x', '😀'"):
        v.encode("ax😀", what="prime")


def test_build_from_string_matches_oracle_and_is_memory_mapped():
    corpus = Corpus.build(UNICODE)
    assert isinstance(corpus.ids, np.memmap)
    np.testing.assert_array_equal(np.asarray(corpus.ids), oracle_ids(UNICODE))
    assert corpus.path.stat().st_size == len(UNICODE) * corpus.vocab.dtype.itemsize
    assert corpus.source == "<string>" and corpus.n_chars == len(UNICODE)


def test_splits_are_contiguous_90_5_5():
    corpus = Corpus.build(UNICODE)
    n = len(UNICODE)
    parts = [np.asarray(corpus.part(k)) for k in ("train", "val", "test")]
    assert [len(p) for p in parts] == [int(0.9 * n), int(0.05 * n), n - int(0.9 * n) - int(0.05 * n)]
    np.testing.assert_array_equal(np.concatenate(parts), oracle_ids(UNICODE))


def test_chunked_file_reading_across_multibyte_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "CHUNK_BYTES", 5)  # every multi-byte character gets cut somewhere
    monkeypatch.setattr(sources, "CHUNK_CHARS", 7)
    path = tmp_path / "u.txt"
    path.write_bytes(UNICODE.encode("utf-8"))
    corpus = Corpus.build(path, out=tmp_path / "run" / "corpus.bin")
    assert corpus.path == tmp_path / "run" / "corpus.bin"
    assert corpus.vocab.decode(corpus.ids) == UNICODE
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["corpus.bin"]  # no .part left behind


@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_decode_error_says_where(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(sources, "CHUNK_BYTES", chunk)
    data = "line one\nzwei ü\ndrei ".encode("utf-8") + b"\xff rest\n"
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        offset = e.start  # the oracle: Python's own decoder on the whole file
    with pytest.raises(ValueError,
                       match=rf"not valid utf-8: byte 0xff at byte offset {offset} \(line 3\); .*`encoding`"):
        Corpus.build(path, out=tmp_path / "out" / "corpus.bin")
    assert not (tmp_path / "out").exists()  # nothing written
    assert Corpus.build(path, encoding="latin-1").vocab.decode(Corpus.build(path, encoding="latin-1").ids) == \
        data.decode("latin-1")


def test_empty_too_short_and_unknown_encoding(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        Corpus.build(empty)
    with pytest.raises(ValueError, match="too short: 100 characters give a training split of 90, but batch_size "
                                         "4 x seq_len 50 needs at least 201"):
        Corpus.build("x" * 100, batches=(4, 50, 1))
    with pytest.raises(ValueError, match=r"val split \(5% of 20 characters\) has 1; at least 2"):
        Corpus.build("abcdefghij" * 2, batches=(1, 2, 1))
    with pytest.raises(ValueError, match="unknown encoding 'nope'"):
        Corpus.build(tmp_path / "empty.txt", encoding="nope")
    with pytest.raises(ValueError, match="file not found"):
        Corpus.build(tmp_path / "missing.txt")


def test_stdin(monkeypatch):
    stdin = types.SimpleNamespace(buffer=io.BytesIO(UNICODE.encode("utf-8")))
    monkeypatch.setattr(sys, "stdin", stdin)
    corpus = Corpus.build("-")
    assert corpus.source == "<stdin>"
    assert corpus.vocab.decode(corpus.ids) == UNICODE


def test_stdin_decode_error_names_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(b"ok\n\xfe")))
    with pytest.raises(ValueError, match=r"<stdin> is not valid utf-8: byte 0xfe at byte offset 3 \(line 2\)"):
        Corpus.build("-")


def test_python_stdlib_corpus_is_deterministic_and_capped():
    files = sources.stdlib_files()
    assert files and all(f.suffix == ".py" for f in files)
    assert not any({"test", "site-packages"} & set(f.parts) for f in files)
    assert sources.stdlib_files() == files
    corpus = Corpus.build("python-stdlib", max_chars=20_000)
    assert corpus.n_chars == 20_000 and corpus.source == "python-stdlib"
    first = files[0].read_text(encoding="utf-8")[:1000]
    assert corpus.vocab.decode(corpus.ids[: len(first)]) == first


def test_stream_batches_are_contiguous_streams():
    ids = np.arange(1000) % 251
    B, L = 4, 10
    batches = list(stream_batches(ids, B, L))
    stream_len = 999 // B
    assert len(batches) == stream_len // L == dt.batches_per_epoch(1000, B, L)
    for i, (x, y) in enumerate(batches):
        for r in range(B):
            start = r * stream_len + i * L
            np.testing.assert_array_equal(x[r].numpy(), ids[start : start + L])
            np.testing.assert_array_equal(y[r].numpy(), ids[start + 1 : start + L + 1])
    # chunk i + 1 continues chunk i in every stream
    np.testing.assert_array_equal(batches[0][1][:, -1].numpy(), batches[1][0][:, 0].numpy())


def test_ranks_take_their_own_streams():
    ids = np.arange(5000) % 97
    whole = list(stream_batches(ids, 6, 8, shift=3))
    rank0 = list(stream_batches(ids, 3, 8, shift=3, rank=0, world_size=2))
    rank1 = list(stream_batches(ids, 3, 8, shift=3, rank=1, world_size=2))
    assert len(whole) == len(rank0) == len(rank1)
    for (x, _), (x0, _), (x1, _) in zip(whole, rank0, rank1):
        np.testing.assert_array_equal(x.numpy(), np.concatenate([x0.numpy(), x1.numpy()]))
    assert whole[0][0][0, 0] == ids[3]
    resumed = list(stream_batches(ids, 6, 8, shift=3, start=5))
    np.testing.assert_array_equal(resumed[0][0].numpy(), whole[5][0].numpy())


def test_the_map_survives_the_file_being_removed():
    corpus = Corpus.build(UNICODE)
    first = np.asarray(corpus.part("train")).copy()
    corpus.path.unlink()  # e.g. a cleanup of the run directory while training
    np.testing.assert_array_equal(np.asarray(corpus.part("train")), first)
    assert corpus.vocab.decode(corpus.part("test")) == UNICODE[len(UNICODE) - len(corpus.part("test")):]


BOM_CASES = [("utf-8", codecs.BOM_UTF8, "utf-8-sig"), ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
             ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16"), ("utf-32-le", codecs.BOM_UTF32_LE, "utf-32"),
             ("utf-32-be", codecs.BOM_UTF32_BE, "utf-32")]


@pytest.mark.parametrize("encoding, bom, codec", BOM_CASES)
def test_a_byte_order_mark_is_recognised_and_consumed(tmp_path, encoding, bom, codec):
    path = tmp_path / "bom.txt"
    path.write_bytes(bom + UNICODE.encode(encoding))
    corpus = Corpus.build(path)
    assert corpus.vocab.decode(corpus.ids) == UNICODE  # the oracle: the text written, without the mark
    assert corpus.encoding == codec and corpus.to_dict()["encoding"] == codec


@pytest.mark.parametrize("encoding, bom, codec", BOM_CASES)
def test_a_byte_order_mark_contradicting_the_encoding_is_named(tmp_path, encoding, bom, codec):
    path = tmp_path / "bom.txt"
    path.write_bytes(bom + UNICODE.encode(encoding))
    label = encoding.upper().replace("-LE", " LE").replace("-BE", " BE").replace("UTF-8", "UTF-8")
    with pytest.raises(ValueError, match=rf"starts with a {label} byte order mark, so it is {label}, not latin-1; "
                                         rf"leave out `encoding` .* or give `encoding='{codec}'`$"):
        Corpus.build(path, encoding="latin-1")


@pytest.mark.parametrize("order", ["le", "be"])
def test_utf16_without_a_mark_is_named_not_decoded_as_garbage(tmp_path, order):
    path = tmp_path / "nobom.txt"
    path.write_bytes(("hello world\n" * 50).encode(f"utf-16-{order}"))
    for encoding in ("utf-8", "latin-1"):  # both would decode it "successfully", NULs and all
        with pytest.raises(ValueError, match=rf"looks like UTF-16 without a byte order mark .*give `encoding='"
                                             rf"utf-16-{order}'`$"):
            Corpus.build(path, encoding=encoding)
    assert Corpus.build(path, encoding=f"utf-16-{order}").vocab.decode(
        Corpus.build(path, encoding=f"utf-16-{order}").ids) == "hello world\n" * 50


def test_a_directory_is_named_as_one(tmp_path):
    for source in (tmp_path, str(tmp_path)):
        with pytest.raises(ValueError, match=rf"text: {tmp_path} is a directory, not a text file"):
            Corpus.build(source)


@pytest.mark.parametrize("source", ["/no/such/file.txt", "no_such_file.txt", "missing/dir/corpus"])
def test_a_string_that_looks_like_a_missing_path_is_not_read_as_text(source):
    assert sources.looks_like_path(source)
    with pytest.raises(ValueError, match=rf"text: file not found: {source} \(a one-line string that looks like a path"):
        Corpus.build(source)
    assert Corpus.build(source + "\n").source == "<string>"  # the documented way to mean the string itself


@pytest.mark.parametrize("text", ["the cat sat on the mat. " * 200, "hello world", "3.14", "e.g. this", "a  /  b"])
def test_ordinary_text_is_not_a_path(text):
    assert not sources.looks_like_path(text)


def test_reopening_checks_size_and_checksum(tmp_path):
    built = Corpus.build(UNICODE, out=tmp_path / "corpus.bin")
    record = built.to_dict()
    assert record["sha256"] == hashlib.sha256((tmp_path / "corpus.bin").read_bytes()).hexdigest()
    reopened = Corpus.open(built.path, built.vocab, n_chars=record["n_chars"], sha256=record["sha256"])
    np.testing.assert_array_equal(np.asarray(reopened.ids), np.asarray(built.ids))
    data = built.path.read_bytes()
    for damaged, message in ((data + data[:10], "holds 1,210 characters but config.json records 1,200"),
                             (data[:-10], "holds 1,190 characters but config.json records 1,200"),
                             (data[:5] + bytes([data[5] ^ 1]) + data[6:], "does not match the SHA-256")):
        built.path.write_bytes(damaged)
        with pytest.raises(ValueError, match=message + ".*start a new run"):
            Corpus.open(built.path, built.vocab, n_chars=record["n_chars"], sha256=record["sha256"])


def test_an_interrupted_encoding_leaves_no_part_file(tmp_path, monkeypatch):
    def interrupted(self, text, what="text"):
        raise KeyboardInterrupt
    monkeypatch.setattr(Vocab, "encode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Corpus.build(UNICODE, out=tmp_path / "run" / "corpus.bin")
    assert list((tmp_path / "run").iterdir()) == []
