from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from api.search.schemas import FusedQuery

AttributeName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
Scalar = StrictBool | StrictInt | StrictFloat | Annotated[str, Field(max_length=1000)]
AttributeValue = Scalar | Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=100)]
Number = StrictInt | StrictFloat


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str = Field(min_length=1, max_length=200, description="your id for the record (SKU, product id)")
    name: str = Field(min_length=1, max_length=500)
    description: str = Field("", max_length=20000)
    attributes: dict[AttributeName, AttributeValue] = Field(
        default_factory=dict, max_length=50,
        description="typed values: numbers (price), booleans (in_stock), strings (category), lists of strings")


class RecordBody(BaseModel):
    """A record's fields for PUT .../records/{external_id}."""
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=500)
    description: str = Field("", max_length=20000)
    attributes: dict[AttributeName, AttributeValue] = Field(default_factory=dict, max_length=50)


class BulkSync(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: list[RecordIn] = Field(min_length=1, max_length=1000)
    snapshot_id: str | None = Field(None, min_length=1, max_length=100, description=(
        "name a full sync: send every record in batches with the same snapshot_id, then complete it"))
    complete: bool = Field(False, description="this batch ends the snapshot: records not in it are deleted")

    @model_validator(mode="after")
    def _unique(self) -> "BulkSync":
        ids = [r.external_id for r in self.records]
        if len(ids) != len(set(ids)):
            raise ValueError("external_id must be unique within a batch")
        if self.complete and not self.snapshot_id:
            raise ValueError("complete needs a snapshot_id")
        return self


class SnapshotComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    snapshot_id: str = Field(min_length=1, max_length=100)


class SyncResult(BaseModel):
    inserted: int
    updated: int = Field(description="records whose fields changed")
    to_embed: int = Field(description="records whose text changed: re-embedded in the background")
    deleted: int = Field(0, description="records absent from the completed snapshot")


class Record(BaseModel):
    id: UUID
    knowledge_base_id: UUID
    external_id: str
    name: str
    description: str
    attributes: dict
    embedded: bool = Field(description="its current text is embedded (until then only the text list finds it)")
    created_at: datetime
    updated_at: datetime


class AttributeFilter(BaseModel):
    """One attribute's condition; several keys are ANDed."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    eq: Scalar | None = None
    in_: list[Scalar] | None = Field(None, alias="in", min_length=1, max_length=100)
    gte: Number | None = None
    gt: Number | None = None
    lte: Number | None = None
    lt: Number | None = None

    @model_validator(mode="after")
    def _some(self) -> "AttributeFilter":
        if all(v is None for v in (self.eq, self.in_, self.gte, self.gt, self.lte, self.lt)):
            raise ValueError("a filter needs eq, in, gte, gt, lte or lt")
        return self


class CatalogSearch(FusedQuery):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(10, ge=1, le=50)
    candidates: int = Field(50, ge=1, le=200)
    filters: dict[AttributeName, AttributeFilter | Scalar] = Field(default_factory=dict, max_length=20, description=(
        'e.g. {"in_stock": true, "price": {"lte": 100}, "category": {"in": ["tenis", "bota"]}}; '
        "applied inside both candidate lists"))
    rrf_k: int = Field(10, ge=1, le=1000)


class CatalogHit(BaseModel):
    record: Record
    rrf: float
    vector_rank: int | None
    text_rank: int | None


class CatalogSearchResponse(BaseModel):
    data: list[CatalogHit]


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, description="a JSON or CSV export of your catalog (http or https)")
    format: Literal["json", "csv"] = "json"
    interval_s: int = Field(3600, ge=60, le=86400, description="how often it is pulled")
    mapping: dict[Literal["external_id", "name", "description"], Annotated[str, Field(max_length=100)]] = Field(
        default_factory=dict, description="feed field names when they are not external_id/id/sku, name/title, "
                                          "description; every other field becomes an attribute")
    active: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        from api.webhooks.schemas import check_http_url
        return check_http_url(value)


class Feed(BaseModel):
    id: UUID
    knowledge_base_id: UUID
    url: str
    format: str
    interval_s: int
    mapping: dict
    active: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_status: str | None = Field(description="synced, not_modified (ETag/Last-Modified matched) or failed")
    last_error: str | None
    last_counts: dict | None = Field(description="inserted, updated, to_embed, deleted, skipped rows")
    created_at: datetime
    updated_at: datetime
