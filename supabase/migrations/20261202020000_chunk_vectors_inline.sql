-- Keep what search reads for every candidate in the row: the vector (exact scans) and the
-- tsvector (BM25 scoring). pgvector's type defaults to STORAGE external and a row over ~2 kB (a
-- 384-dim vector is 1.5 kB, plus the chunk's text and tsvector) gets its largest values moved to
-- the TOAST table, so each candidate cost ~3 page reads (row, TOAST index, TOAST row). With main
-- they stay inline and the chunk's text (read only for the k results) is compressed or moved out
-- first. Catalog-only: rows written from now on (and rewritten ones) are stored the new way.
alter table public.document_chunks alter column embedding set storage main,
                                   alter column fts set storage main;
