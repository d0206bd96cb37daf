from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from api.chat.deps import TransactionsDep
from api.core.deps import OrgId, SessionDep
from api.core.pagination import Page, PageDep, make_page
from api.prompt_studio import service
from api.prompt_studio.schemas import (Diff, Rollback, Template, TemplateCreate, TestRun, TestRunResult, Version,
                                       VersionCreate, VersionList)

router = APIRouter(prefix="/v1/prompt-templates", tags=["prompt studio"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Template)
async def create_template(body: TemplateCreate, session: SessionDep, org_id: OrgId):
    """Create a system prompt template (its version 1), validated in the prompt sandbox."""
    return await service.create(session, org_id, body)


@router.get("", response_model=Page[Template])
async def list_templates(session: SessionDep, org_id: OrgId, page: PageDep):
    """List the organization's prompt templates with their current text, newest first."""
    return make_page(await service.list_templates(session, org_id, page), page, Template)


@router.get("/{template_id}", response_model=Template)
async def get_template(template_id: UUID, session: SessionDep):
    """Get a template with its current version's text."""
    return await service.get(session, template_id)


@router.delete("/{template_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_template(template_id: UUID, session: SessionDep):
    """Delete a template and its history (agents keep the text they were given)."""
    await service.delete(session, template_id)


@router.post("/{template_id}/versions", status_code=status.HTTP_201_CREATED, response_model=Template)
async def add_version(template_id: UUID, body: VersionCreate, session: SessionDep):
    """Save a new version; it becomes the current one."""
    return await service.add_version(session, template_id, body.body, body.note)


@router.get("/{template_id}/versions", response_model=VersionList)
async def list_versions(template_id: UUID, session: SessionDep):
    """A template's versions, newest first (at most 200)."""
    return VersionList(data=await service.versions(session, template_id))


@router.get("/{template_id}/versions/{version}", response_model=Version)
async def get_version(template_id: UUID, version: int, session: SessionDep):
    """One version's text."""
    return await service.version(session, template_id, version)


@router.get("/{template_id}/diff", response_model=Diff)
async def diff_versions(template_id: UUID, session: SessionDep,
                        from_version: Annotated[int, Query(alias="from", ge=1)],
                        to_version: Annotated[int, Query(alias="to", ge=1)]):
    """Unified diff between two versions."""
    return await service.diff(session, template_id, from_version, to_version)


@router.post("/{template_id}/rollback", response_model=Template)
async def rollback(template_id: UUID, body: Rollback, session: SessionDep):
    """Make an old version's text current again, as a new version (the history is kept)."""
    return await service.rollback(session, template_id, body.version)


@router.post("/{template_id}/test-run", response_model=TestRunResult)
async def test_run(template_id: UUID, body: TestRun, tx: TransactionsDep):
    """Render a version for an agent and a sample message and ask the agent's model (nothing is stored)."""
    return await service.test_run(tx, template_id, body)
