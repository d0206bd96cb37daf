"""Token-aware chunking: bounds, offsets, overlap, pages, determinism."""
import hashlib

import pytest

from api.documents.chunking import chunk_document, chunk_text
from api.documents.extracted import ExtractedText, PageSpan
from api.embeddings.local import count_tokens

PARAGRAPHS = [
    "A Renum ajuda agentes de atendimento a lembrar de cada cliente. Quando um cliente volta, "
    "o agente já sabe o histórico de pedidos, as preferências e as últimas conversas.",
    "Para trocar um produto, o cliente deve solicitar a troca em até trinta dias após a entrega. "
    "O produto precisa estar na embalagem original, sem sinais de uso, com a nota fiscal.",
    "Refunds are issued to the original payment method within ten business days after the "
    "returned item arrives at our warehouse and passes inspection.",
    "O frete de devolução é gratuito para defeitos de fabricação. Nos demais casos, o valor "
    "do frete é descontado do reembolso, conforme a tabela da transportadora.",
]
TEXT = "\n\n".join(PARAGRAPHS * 3)


def test_count_tokens_uses_the_e5_tokenizer_without_prefix():
    assert count_tokens("") == 0
    assert 1 <= count_tokens("olá") <= 3
    # Portuguese accents do not explode into bytes: ~1-2 pieces per word.
    words = PARAGRAPHS[1].split()
    assert len(words) <= count_tokens(PARAGRAPHS[1]) <= 2 * len(words)


def test_chunks_are_bounded_exact_slices_with_hashes():
    chunks = chunk_text(TEXT, chunk_tokens=64, overlap=0)
    assert len(chunks) > 5
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text == TEXT[chunk.start:chunk.end]
        assert chunk.text == chunk.text.strip()
        assert chunk.text
        assert chunk.token_count == count_tokens(chunk.text) <= 64
        assert chunk.content_hash == hashlib.sha256(chunk.text.encode()).hexdigest()
        assert chunk.page is None
        assert chunk.page_end is None
    # Without overlap the chunks tile the text in order.
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:], strict=False))


def test_overlap_repeats_text_between_neighbours():
    chunks = chunk_text(TEXT, chunk_tokens=96, overlap=0.25)
    assert len(chunks) > 3
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False)), "neighbours should overlap"
    assert all(a.start < b.start for a, b in zip(chunks, chunks[1:], strict=False)), "but still advance"
    assert all(chunk.token_count <= 96 for chunk in chunks)
    assert chunks[0].start == 0
    assert chunks[-1].end == len(TEXT.rstrip())


def test_same_input_gives_identical_chunks():
    first = chunk_text(TEXT, chunk_tokens=80, overlap=0.15)
    second = chunk_text(TEXT, chunk_tokens=80, overlap=0.15)
    assert first == second
    assert [c.content_hash for c in first] != [c.content_hash for c in chunk_text(TEXT + " fim.", chunk_tokens=80)]


def test_pages_are_mapped_from_offsets():
    page_texts = ["\n\n".join(PARAGRAPHS[:2]), "\n\n".join(PARAGRAPHS[2:]), PARAGRAPHS[0]]
    text, pages, offset = "", [], 0
    for number, page_text in enumerate(page_texts, start=1):
        if text:
            text += "\n\n"
            offset += 2
        pages.append(PageSpan(number=number, start=offset, end=offset + len(page_text)))
        text += page_text
        offset += len(page_text)
    document = ExtractedText(text=text, kind="pdf", pages=tuple(pages))
    chunks = chunk_document(document, chunk_tokens=40, overlap=0)
    assert {c.page for c in chunks} == {1, 2, 3}
    for chunk in chunks:
        span = next(p for p in pages if p.number == chunk.page)
        assert span.start <= chunk.start < span.end
        assert chunk.page <= chunk.page_end


def test_long_unbroken_text_is_still_split():
    blob = "x" * 5000  # no whitespace or punctuation to split on
    chunks = chunk_text(blob, chunk_tokens=32, overlap=0)
    assert len(chunks) > 1
    assert all(c.token_count <= 32 for c in chunks)
    assert "".join(c.text for c in chunks) == blob


def test_defaults_come_from_settings_and_blank_text_has_no_chunks():
    assert chunk_text("   \n  ") == []
    assert chunk_text("Olá mundo.")[0].text == "Olá mundo."


@pytest.mark.parametrize(("size", "overlap"), [(4, 0), (600, 0), (64, 64), (64, -0.1)])
def test_invalid_parameters_are_rejected(size, overlap):
    with pytest.raises(ValueError):
        chunk_text(TEXT, chunk_tokens=size, overlap=overlap)
