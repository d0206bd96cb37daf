from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status
from fastapi.routing import APIRoute

from api.core.config import get_settings
from api.core.deps import OrgId, SessionDep
from api.core.edge import check_text, parse_json_field
from api.core.errors import PayloadTooLarge, Unprocessable
from api.core.pagination import Page, PageDep, make_page
from api.documents import service
from api.documents.schemas import Document, DocumentStatus, DocumentText, NewContent, clean_tags

# Room for the multipart envelope and the form fields next to the file itself.
_FORM_OVERHEAD = 256 * 1024


class _BodyLimitRoute(APIRoute):
    """Refuses a body whose declared length is over the limit before it is read or spooled to disk."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            length = request.headers.get("content-length", "")
            limit = get_settings().max_upload_bytes
            if length.isdigit() and int(length) > limit + _FORM_OVERHEAD:
                raise PayloadTooLarge(f"the upload is larger than the {limit}-byte limit")
            return await handler(request)
        return limited


router = APIRouter(tags=["documents"], route_class=_BodyLimitRoute)

FileField = Annotated[UploadFile, File(description="txt, md, html, pdf, docx or json")]
TitleField = Annotated[str | None, Form(max_length=500, description="default: the file name")]


async def _read(file: UploadFile) -> bytes:
    limit = get_settings().max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the file is larger than the {limit}-byte limit")
    return data


def _tags(values: list[str] | None) -> list[str]:
    for value in values or []:
        check_text(value, "tags")
    try:
        return clean_tags([tag for value in values or [] for tag in value.split(",")])
    except ValueError as exc:
        raise Unprocessable(f"tags: {exc}") from None


def _metadata(raw: str | None) -> dict:
    # Form fields skip EdgeGuard's JSON checks (the body is multipart): the same rules here.
    if not raw:
        return {}
    return parse_json_field(check_text(raw, "metadata"), "metadata", get_settings().max_metadata_bytes)


def _form_text(file: UploadFile, **fields: str | None) -> None:
    for name, value in {"filename": file.filename, **fields}.items():
        if value:
            check_text(value, name)


def _respond(response: Response, doc: dict, new: bool, new_status: int) -> dict:
    response.status_code = new_status if new else status.HTTP_200_OK
    if new_status == status.HTTP_201_CREATED and new:
        response.headers["Location"] = f"/v1/documents/{doc['id']}"
    return doc


@router.post("/v1/knowledge-bases/{kb_id}/documents", status_code=status.HTTP_201_CREATED, response_model=Document,
             responses={200: {"model": Document, "description": "same bytes already in this KB"}})
async def upload_document(kb_id: UUID, file: FileField, session: SessionDep, org_id: OrgId, response: Response,
                          title: TitleField = None,
                          tags: Annotated[list[str] | None, Form(description="repeat or comma-separate")] = None,
                          metadata: Annotated[str | None, Form(description="a JSON object")] = None,
                          source: Annotated[str, Form(min_length=1, max_length=200)] = "upload"):
    """Upload a file into a knowledge base and queue it for processing (same bytes: the existing document)."""
    _form_text(file, title=title, source=source)
    content = NewContent(data=await _read(file), content_type=file.content_type or "", filename=file.filename,
                         title=title, tags=_tags(tags), metadata=_metadata(metadata), source=source)
    doc, created = await service.upload(session, org_id, kb_id, content)
    return _respond(response, doc, created, status.HTTP_201_CREATED)


@router.post("/v1/knowledge-bases/{kb_id}/documents/text", status_code=status.HTTP_201_CREATED,
             response_model=Document,
             responses={200: {"model": Document, "description": "same text already in this KB"}})
async def create_text_document(kb_id: UUID, body: DocumentText, session: SessionDep, org_id: OrgId,
                               response: Response):
    """Create a document from text sent as JSON and queue it for processing."""
    content = NewContent(data=body.text.encode("utf-8"), content_type=f"{body.content_type}; charset=utf-8",
                         title=body.title, tags=body.tags, metadata=body.metadata, source=body.source)
    doc, created = await service.upload(session, org_id, kb_id, content)
    return _respond(response, doc, created, status.HTTP_201_CREATED)


@router.get("/v1/knowledge-bases/{kb_id}/documents", response_model=Page[Document])
async def list_documents(kb_id: UUID, session: SessionDep, org_id: OrgId, page: PageDep,
                         status_filter: Annotated[DocumentStatus | None, Query(alias="status")] = None):
    """List a knowledge base's documents, newest first, optionally by status."""
    rows = await service.list_documents(session, org_id, kb_id, page, status_filter)
    return make_page(rows, page, Document)


@router.get("/v1/documents/{document_id}", response_model=Document)
async def get_document(document_id: UUID, session: SessionDep):
    """Get a document with its processing status, progress, error and chunk count."""
    return await service.get(session, document_id)


@router.put("/v1/documents/{document_id}/content", status_code=status.HTTP_202_ACCEPTED, response_model=Document,
            responses={200: {"model": Document, "description": "identical bytes: nothing changed"}})
async def replace_document_content(document_id: UUID, file: FileField, session: SessionDep, response: Response,
                                   title: TitleField = None):
    """Replace a document's file: bumps its version and reprocesses it (old chunks serve until then)."""
    _form_text(file, title=title)
    content = NewContent(data=await _read(file), content_type=file.content_type or "", filename=file.filename,
                         title=title)
    doc, changed = await service.replace_content(session, document_id, content)
    return _respond(response, doc, changed, status.HTTP_202_ACCEPTED)


@router.delete("/v1/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(document_id: UUID, session: SessionDep):
    """Delete a document with its file and chunks."""
    await service.delete(session, document_id)


@router.post("/v1/documents/{document_id}/reprocess", status_code=status.HTTP_202_ACCEPTED, response_model=Document)
async def reprocess_document(document_id: UUID, session: SessionDep):
    """Queue a ready or failed document for processing again."""
    return await service.reprocess(session, document_id)
