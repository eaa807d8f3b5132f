"""Where the text of a character model comes from, read in chunks: files (in their encoding), strings,
standard input and the built-in corpus. Nothing here holds a whole corpus as one Python string.

Encodings: a file that starts with a byte order mark is read in the encoding the mark names (UTF-8 with a
BOM, UTF-16 or UTF-32, either byte order) when ``encoding`` is the default ``"utf-8"``; with another
``encoding`` the mark is an error that names it. A file without a mark whose first bytes are a third or
more NUL bytes, all at even or all at odd offsets, is UTF-16 without a mark: an error that says so and
gives the ``encoding`` to use (decoded as UTF-8 or Latin-1 it would be valid, and garbage). Bytes that do
not decode are reported with their offset and line.

Strings: ``"-"`` is standard input, a name in :data:`BUILTIN` the built-in corpus, a one-line string that
names an existing file or directory or looks like a path (:func:`looks_like_path`) is a path, and any
other string is the text itself.

Example:
    >>> chunks, name, _, codec = open_source("hello world")
    >>> name, "".join(chunks())
    ('<string>', 'hello world')
"""

from __future__ import annotations

import codecs
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Callable, Iterator

BUILTIN = ("python-stdlib",)
STDLIB_MAX_CHARS = 4_000_000  # the built-in corpus is capped at this many characters
CHUNK_BYTES = 1 << 20  # bytes decoded per read
CHUNK_CHARS = 1 << 20  # characters per string chunk
STDLIB_SKIP = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__", "encodings",
               "pydoc_data", "idlelib", "turtledemo", "lib2to3", "ensurepip"}

BOMS = (  # byte order marks, longest first (UTF-32 LE's starts with UTF-16 LE's)
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32 LE"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 LE"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 BE"),
)
SNIFF_BYTES = 4096  # bytes looked at for a missing byte order mark


def file_encoding(path: str | Path, encoding: str = "utf-8") -> str:
    """The codec to read ``path`` with: ``encoding``, or the one its byte order mark names.

    Args:
        path: the file.
        encoding: what the user asked for; the default ``"utf-8"`` gives way to a byte order mark.

    Returns:
        ``encoding``, or ``"utf-8-sig"`` / ``"utf-16"`` / ``"utf-32"`` for a file with that mark (the
        codec consumes the mark).

    Raises:
        ValueError: an unknown ``encoding``; a mark that contradicts an explicit ``encoding``; a file that
            looks like UTF-16 without a mark (NUL bytes in every other position).
    """
    path = Path(path)
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"text: unknown encoding '{encoding}'") from None
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    for bom, name, label in BOMS:
        if head.startswith(bom):
            if codec == "utf-8" or codec.startswith(name.split("-sig")[0]):  # the default, or the mark's family
                return name
            raise ValueError(f"text: {path} starts with a {label} byte order mark, so it is {label}, not {encoding}; "
                             f"leave out `encoding` (the mark is recognised) or give `encoding='{name}'`")
    if codec.startswith(("utf-16", "utf-32")) or len(head) < 8:
        return encoding
    zeros_even, zeros_odd = head[0::2].count(0), head[1::2].count(0)
    if max(zeros_even, zeros_odd) >= len(head) / 6 and min(zeros_even, zeros_odd) == 0:
        order = "le" if zeros_odd else "be"  # ASCII in UTF-16 LE is the byte, then 0
        raise ValueError(f"text: {path} looks like UTF-16 without a byte order mark ({zeros_even + zeros_odd} NUL "
                         f"bytes in its first {len(head)}, all at {'odd' if zeros_odd else 'even'} offsets); "
                         f"give `encoding='utf-16-{order}'`")
    return encoding


def file_chunks(path: str | Path, encoding: str = "utf-8") -> Iterator[str]:
    """Decoded chunks of a file, strictly; undecodable bytes are a ``ValueError`` with byte offset and line.

    ``encoding`` is used as given: choose it with :func:`file_encoding` to honour a byte order mark.
    """
    path = Path(path)
    try:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
    except LookupError:
        raise ValueError(f"text: unknown encoding '{encoding}'") from None
    offset, lines = 0, 1  # bytes consumed before this chunk; line number at its start
    with path.open("rb") as f:
        while True:
            raw = f.read(CHUNK_BYTES)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                at = offset - pending + e.start  # absolute byte offset of the bad byte
                line = lines + raw[: max(0, e.start - pending)].count(b"\n")
                hint = "choose the file's encoding with `encoding` (e.g. latin-1 or cp1252 for Western European text)"
                raise ValueError(
                    f"text: {path} is not valid {encoding}: byte 0x{e.object[e.start]:02x} at byte offset {at} "
                    f"(line {line}); {hint}"
                ) from None
            if text:
                yield text
            if not raw:
                return
            offset += len(raw)
            lines += raw.count(b"\n")


def string_chunks(text: str) -> Iterator[str]:
    """``text`` in slices of :data:`CHUNK_CHARS` characters."""
    for start in range(0, len(text), CHUNK_CHARS):
        yield text[start : start + CHUNK_CHARS]


def stdlib_files() -> list[Path]:
    """The ``.py`` files of the running Python's standard library, in a deterministic order.

    Sorted by their path relative to the library; ``site-packages``, the test suites and generated tables
    (``encodings``, ``pydoc_data``) are left out, so the corpus is code people wrote.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in STDLIB_SKIP]  # prune before descending
        files += [Path(folder) / n for n in names if n.endswith(".py")]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def stdlib_chunks(max_chars: int = STDLIB_MAX_CHARS) -> Iterator[str]:
    """The built-in ``python-stdlib`` corpus: its files' text, each ending in a newline, up to ``max_chars``."""
    left = max_chars
    for path in stdlib_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a handful of files use other encodings; the corpus stays UTF-8
        if not text.endswith("\n"):
            text += "\n"
        yield text[:left]
        left -= len(text)
        if left <= 0:
            return


def looks_like_path(text: str) -> bool:
    """Whether a string given as training data is meant as a file name rather than as the text itself.

    One line, under 4,096 characters, and either with a path separator and no two consecutive spaces, or
    a single word with a file extension (``notes.txt``): ``"/no/such/file.txt"`` and ``"data.txt"`` are
    paths; ``"the cat sat on the mat. " * 200`` is text.
    """
    if "\n" in text or len(text) >= 4096 or not text.strip():
        return False
    if (os.sep in text or "/" in text) and "  " not in text:
        return True
    suffix = os.path.splitext(text)[1]
    return " " not in text and 1 < len(suffix) <= 6 and suffix[1:].isalnum() and not suffix[1:].isdigit()


def open_source(source, encoding: str = "utf-8") -> tuple[Callable[[], Iterator[str]], str, object, str | None]:
    """``(chunks, name, tmp, encoding)``: a function that yields the text afresh on each call, its name, any
    temporary directory, and the codec a file is read with."""
    if isinstance(source, str) and source in BUILTIN:
        return stdlib_chunks, source, None, None
    if isinstance(source, str) and source == "-":
        # standard input is read once, to a temporary file, so that it can be read twice
        tmp = tempfile.TemporaryDirectory(prefix="rnnlab-corpus-")
        copy = Path(tmp.name) / "stdin.txt"
        with copy.open("wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f, CHUNK_BYTES)
        try:
            codec = file_encoding(copy, encoding)
        except ValueError as e:
            raise ValueError(str(e).replace(str(copy), "<stdin>")) from None
        return (lambda: _named(file_chunks(copy, codec), copy, "<stdin>")), "<stdin>", tmp, codec
    if isinstance(source, Path) or (isinstance(source, str) and (looks_like_path(source) or (
            "\n" not in source and len(source) < 4096 and os.path.exists(source)))):
        path = Path(source)
        if path.is_dir():
            raise ValueError(f"text: {path} is a directory, not a text file; give one file (concatenate several "
                             f"first, e.g. cat {path}/*.txt > all.txt)")
        if not path.is_file():
            raise ValueError(f"text: file not found: {path}" + (
                "" if isinstance(source, Path) else " (a one-line string that looks like a path is read as one; "
                                                     "to train on such a string itself, end it with a newline)"))
        codec = file_encoding(path, encoding)
        return (lambda: file_chunks(path, codec)), str(path), None, codec
    if isinstance(source, str):
        return (lambda: string_chunks(source)), "<string>", None, None
    raise TypeError(f"text: expected text, a path, '-' or one of {', '.join(BUILTIN)}; got {type(source).__name__}")


def _named(chunks: Iterator[str], path: Path, name: str) -> Iterator[str]:
    """``chunks`` with the temporary file's name replaced by ``name`` in error messages."""
    try:
        yield from chunks
    except ValueError as e:
        raise ValueError(str(e).replace(str(path), name)) from None


def capped(chunks: Callable[[], Iterator[str]], max_chars: int) -> Callable[[], Iterator[str]]:
    """``chunks`` cut off after ``max_chars`` characters."""
    def capped() -> Iterator[str]:
        left = max_chars
        for text in chunks():
            if left <= 0:
                return
            yield text[:left]
            left -= len(text)
    return capped
