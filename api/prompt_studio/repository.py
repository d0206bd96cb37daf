from uuid import UUID

from api.core import sql
from api.core.pagination import PageParams

_TEMPLATE = """t.id, t.organization_id, t.name, t.description, t.current_version, t.created_at, t.updated_at,
               v.body, v.note"""


async def insert_template(conn, org_id: UUID, name: str, description: str) -> dict | None:
    """None when the organization already has a template with this name."""
    return await sql.fetch_one(conn, """
        insert into public.prompt_templates (organization_id, name, description) values (%s, %s, %s)
        on conflict (organization_id, name) do nothing returning *""", [org_id, name, description])


async def insert_version(conn, template: dict, version: int, body: str, note: str) -> dict:
    return await sql.fetch_one(conn, """
        insert into public.prompt_template_versions (organization_id, template_id, version, body, note)
        values (%s, %s, %s, %s, %s) returning *""",
                               [template["organization_id"], template["id"], version, body, note])


async def bump_version(conn, template_id: UUID) -> dict | None:
    """Take the next version number; the row lock orders concurrent saves of one template."""
    return await sql.fetch_one(conn, """
        update public.prompt_templates set current_version = current_version + 1 where id = %s returning *""",
                               [template_id])


async def get(conn, template_id: UUID) -> dict | None:
    return await sql.fetch_one(conn, f"""
        select {_TEMPLATE} from public.prompt_templates t
          join public.prompt_template_versions v on v.template_id = t.id and v.version = t.current_version
         where t.id = %s""", [template_id])


async def page(conn, org_id: UUID, params: PageParams) -> list[dict]:
    after = params.after
    return await sql.fetch_all(conn, f"""
        select {_TEMPLATE} from public.prompt_templates t
          join public.prompt_template_versions v on v.template_id = t.id and v.version = t.current_version
         where t.organization_id = %s {"and (t.created_at, t.id) < (%s, %s)" if after else ""}
         order by t.created_at desc, t.id desc limit %s""", [org_id, *(after or ()), params.limit + 1])


async def versions(conn, template_id: UUID, limit: int) -> list[dict]:
    return await sql.fetch_all(conn, """
        select * from public.prompt_template_versions where template_id = %s order by version desc limit %s""",
                               [template_id, limit])


async def version(conn, template_id: UUID, number: int) -> dict | None:
    return await sql.fetch_one(conn, "select * from public.prompt_template_versions where template_id = %s "
                                     "and version = %s", [template_id, number])


async def delete(conn, template_id: UUID) -> bool:
    return await sql.delete(conn, "prompt_templates", template_id)


async def organization_name(conn, org_id: UUID) -> str | None:
    row = await sql.fetch_one(conn, "select name from public.organizations where id = %s", [org_id])
    return row["name"] if row else None
