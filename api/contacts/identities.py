"""One customer across channels: normalised identifiers and the contact they resolve to.

A contact is found by its external id, else by any identifier it carries (channel id, E.164
phone, lower-cased email), else created. So a customer who first wrote on WhatsApp
(`whatsapp:5511...`, phone +5511...) and then comes through the API with `user` set to the same
phone, or through Chatwoot with that phone on their Chatwoot contact, is the same contact with
the same memory. Identifiers are unique per organization and never cross organizations.
"""
from __future__ import annotations

import re
from uuid import UUID

from api.contacts import repository as contacts_repository
from api.contacts import repository_identities as repository
from api.conversations import repository as conversations_repository
from api.core.db import Session

_PHONE_CHARS = re.compile(r"[\s().\-]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_phone(value: str | None, *, min_digits: int = 8) -> str | None:
    """E.164 (`+<country><number>`) or None. Brazilian mobiles written without the ninth digit
    (WhatsApp ids of older numbers: 55 + area code + 8 digits starting 6-9) get it, so both
    spellings of one number are one identifier."""
    if not value:
        return None
    text = _PHONE_CHARS.sub("", value.strip())
    text = text[1:] if text.startswith("+") else text[2:] if text.startswith("00") else text
    if not text.isdigit() or not min_digits <= len(text) <= 15:
        return None
    if text.startswith("55") and len(text) == 12 and text[4] in "6789":
        text = text[:4] + "9" + text[4:]
    return "+" + text


def normalise_email(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    return text if _EMAIL.match(text) and len(text) <= 320 else None


def identifiers(external_id: str | None, phone: str | None = None, email: str | None = None) -> list[tuple[str, str]]:
    """(kind, value) in lookup order. An external id that is itself a phone number (10+ digits)
    or an email address also counts as one: API callers often pass the phone as `user`."""
    found: list[tuple[str, str]] = []
    if external_id:
        found.append(("channel", external_id))
    phone_value = normalise_phone(phone) or normalise_phone(external_id, min_digits=10)
    email_value = normalise_email(email) or normalise_email(external_id)
    if phone_value:
        found.append(("phone", phone_value))
    if email_value:
        found.append(("email", email_value))
    return found


async def resolve(session: Session, org_id: UUID, *, external_id: str, name: str | None = None,
                  phone: str | None = None, email: str | None = None) -> UUID:
    """The contact for this external id or any of its identifiers (created if none matches)."""
    ids = identifiers(external_id, phone, email)
    contact = await contacts_repository.get_by_external_id(session.conn, org_id, external_id)
    # Found only through another identifier: that contact keeps its own external id and name.
    contact_id = None if contact else await repository.find(session.conn, org_id, ids)
    if contact_id is None:  # the external id's own contact (a given name replaces the stored one), or a new one
        contact_id = (await conversations_repository.upsert_contact(session.conn, org_id, external_id, name))["id"]
    await repository.add(session.conn, org_id, contact_id, ids)
    found = dict(ids)
    if found.get("phone") or found.get("email"):
        await repository.fill_contact(session.conn, contact_id, found.get("phone"), found.get("email"))
    return contact_id


async def register(session: Session, contact: dict) -> None:
    """Identifiers of a contact created or changed through the contacts API."""
    await repository.add(session.conn, contact["organization_id"], contact["id"],
                         identifiers(contact.get("external_id"), contact.get("phone"), contact.get("email")))
