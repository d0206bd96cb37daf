from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SearchMode = Literal["hybrid", "vector", "text"]
Fusion = Literal["zscore", "rrf"]
MAX_QUERY_CHARS = 4000


class SearchFilters(BaseModel):
    """Restrictions applied inside both candidate lists (so they never starve the top k)."""

    model_config = ConfigDict(extra="forbid")
    tags_any: list[str] = Field(default_factory=list, max_length=50, description="chunk has at least one of these")
    tags_all: list[str] = Field(default_factory=list, max_length=50, description="chunk has every one of these")
    document_ids: list[UUID] = Field(default_factory=list, max_length=500)
    source: list[str] = Field(default_factory=list, max_length=20, description="document source is one of these")
    metadata: dict = Field(default_factory=dict, description="the document's metadata contains this JSON object")

    @field_validator("source", mode="before")
    @classmethod
    def _one_source(cls, value):
        return [value] if isinstance(value, str) else value

    @property
    def empty(self) -> bool:
        return not (self.tags_any or self.tags_all or self.document_ids or self.source or self.metadata)


class RrfWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vector: float = Field(1.0, ge=0, le=10)
    text: float = Field(1.0, ge=0, le=10)


class FusedQuery(BaseModel):
    """The checks of every vector + text search request (knowledge bases, catalogs): a query with
    some text (stripped) and candidate lists at least as long as the results asked for. Subclasses
    declare `query`, `k` and `candidates` with their own bounds."""

    @field_validator("query", check_fields=False)
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query must contain some text")
        return value.strip()

    @model_validator(mode="after")
    def _enough_candidates(self):
        if self.candidates < self.k:
            raise ValueError("candidates must be at least k")
        return self


class SearchOptions(FusedQuery):
    """What to search for; the knowledge bases come from the path or the multi-KB body."""

    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(10, ge=1, le=50, description="results to return")
    mode: SearchMode = "hybrid"
    filters: SearchFilters = Field(default_factory=SearchFilters)
    candidates: int = Field(50, ge=1, le=200, description="size of each candidate list before fusion")
    weights: RrfWeights = Field(default_factory=RrfWeights, description="reciprocal rank fusion weights")
    # 10 rather than the customary 60: better nDCG@10 and recall@10 on all four evaluation sets
    # (SciFact, FaQuAD, Pirá en/pt; BENCHMARKS.md), i.e. the top of each list counts more.
    rrf_k: int = Field(10, ge=1, le=1000, description="RRF constant: score = sum(weight / (rrf_k + rank))")
    # zscore: better than RRF on 4 of the 5 evaluation sets and level on the fifth (BENCHMARKS.md,
    # "Fusion"); rrf stays available (ranks only, insensitive to score scales).
    fusion: Fusion = Field("zscore", description="how the vector and text lists are fused: zscore = sum of "
                                                 "weight x (score - list mean) / list standard deviation, a "
                                                 "chunk missing from a list counting as its lowest; rrf = sum "
                                                 "of weight / (rrf_k + rank)")


class MultiSearchRequest(SearchOptions):
    knowledge_base_ids: list[UUID] = Field(min_length=1, max_length=20)


class Scores(BaseModel):
    fused: float = Field(description="the score results are ordered by (see the request's `fusion`)")
    rrf: float = Field(description="reciprocal rank fusion score, whatever the fusion; in vector or text mode, "
                                   "that list's share")
    vector_distance: float | None = Field(None, description="cosine distance (0 = same direction)")
    vector_similarity: float | None = Field(None, description="1 - cosine distance")
    text_score: float | None = Field(None, description="BM25 score of the full-text match (IDF within the "
                                                       "searched knowledge bases)")
    vector_rank: int | None = Field(None, description="1-based position in the vector candidate list")
    text_rank: int | None = Field(None, description="1-based position in the full-text candidate list")


class Hit(BaseModel):
    chunk_id: UUID
    document_id: UUID
    knowledge_base_id: UUID
    title: str
    filename: str | None
    content: str
    page: int | None
    ordinal: int
    document_version: int
    source: str
    tags: list[str]
    metadata: dict
    scores: Scores


class SearchResponse(BaseModel):
    data: list[Hit]
    mode: SearchMode
    cached: bool = Field(description="served from the result cache")
