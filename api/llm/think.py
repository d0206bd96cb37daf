"""Remove reasoning blocks (`<think>...</think>`, DeepSeek-R1 style) from model output.

Reasoning models write their chain of thought between think tags before the answer.
Customers must only see the answer, and we must not store the reasoning as the
assistant's message, so both the full text and streamed deltas go through here.

Rules (the same for `strip_think` and `ThinkFilter`):
- everything between `<think>` and the next `</think>` is dropped (no nesting: the
  first closing tag ends the block, which is what R1 emits);
- an unclosed `<think>` drops the rest of the output (generation cut off mid-thought);
- a stray `</think>` is removed; whitespace right after a closed block is skipped
  (when the visible text is empty or ends in whitespace) so the answer does not start
  with the blank lines R1 puts after `</think>` and words around a block stay apart.
Only `strip_think` can also treat a stray `</think>` as "everything before it was
reasoning" (templates that open the think block in the prompt); a stream cannot take
back text it already emitted, so streaming callers pass `starts_inside=True` instead.
"""
from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"


def _partial_tag_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkFilter:
    """Stateful filter for a stream of text deltas; tags may be split across chunks.

    `feed()` returns the visible part of a delta (possibly ""), `flush()` returns any
    held-back text at the end of the stream. Text that could be the start of a tag is
    held back until the next delta decides it, so at most len("</think>") - 1
    characters are delayed.
    """

    def __init__(self, starts_inside: bool = False) -> None:
        self._inside = starts_inside
        self._pending = ""
        self._last = ""  # last visible character emitted
        # After a block, skip whitespace if the answer so far is empty or already ends with it,
        # so "<think>..</think>\n\nOi" gives "Oi" and "a <think>..</think> b" gives "a b".
        self._skip_ws = starts_inside

    @property
    def inside(self) -> bool:
        return self._inside

    def _emit(self, out: list[str], text: str) -> None:
        if text:
            out.append(text)
            self._last = text[-1]

    def _after_block(self) -> None:
        self._skip_ws = not self._last or self._last.isspace()

    def feed(self, delta: str) -> str:
        buf = self._pending + delta
        self._pending = ""
        out: list[str] = []
        while buf:
            if self._inside:
                idx = buf.find(CLOSE)
                if idx < 0:
                    # Keep only a possible partial closing tag; the rest is reasoning.
                    keep = _partial_tag_suffix(buf, CLOSE)
                    self._pending = buf[len(buf) - keep:] if keep else ""
                    break
                buf = buf[idx + len(CLOSE):]
                self._inside = False
                self._after_block()
                continue
            if self._skip_ws:
                buf = buf.lstrip()
                if not buf:
                    break
                self._skip_ws = False
            open_idx, close_idx = buf.find(OPEN), buf.find(CLOSE)
            hits = [(i, tag) for i, tag in ((open_idx, OPEN), (close_idx, CLOSE)) if i >= 0]
            if hits:
                idx, tag = min(hits)
                self._emit(out, buf[:idx])
                buf = buf[idx + len(tag):]
                if tag == OPEN:
                    self._inside = True
                else:  # stray closing tag: drop the tag itself
                    self._after_block()
                continue
            keep = max(_partial_tag_suffix(buf, OPEN), _partial_tag_suffix(buf, CLOSE))
            self._emit(out, buf[:len(buf) - keep])
            self._pending = buf[len(buf) - keep:] if keep else ""
            break
        return "".join(out)

    def flush(self) -> str:
        """End of stream: a held partial tag outside a block was ordinary text."""
        rest, self._pending = self._pending, ""
        return "" if self._inside else rest


def strip_think(text: str, *, starts_inside: bool = False) -> str:
    """Visible answer of a complete output, with surrounding whitespace trimmed.

    A `</think>` that appears before any `<think>` means the chat template opened the
    block inside the prompt (R1 distills do), so the text before it is reasoning.
    """
    close_idx, open_idx = text.find(CLOSE), text.find(OPEN)
    if not starts_inside and close_idx >= 0 and (open_idx < 0 or close_idx < open_idx):
        starts_inside = True
    f = ThinkFilter(starts_inside=starts_inside)
    return (f.feed(text) + f.flush()).strip()
