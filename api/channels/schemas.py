from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from api.webhooks.schemas import check_http_url

AccountId = str | int


class _IntegrationFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("base_url", check_fields=False)
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value).rstrip("/")

    @field_validator("account_id", check_fields=False)
    @classmethod
    def _account(cls, value: AccountId | None) -> str | None:
        if value is None:
            return None
        text = str(value).strip()
        if not text.isdigit() or len(text) > 20:
            raise ValueError("must be Chatwoot's numeric account id")
        return text


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$", description="an approved template")
    language: str = Field("pt_BR", min_length=2, max_length=15, pattern=r"^[A-Za-z_]+$")


class ChannelSettings(BaseModel):
    """How the agent behaves on this channel: when it hands the conversation to a human and
    what it sends when it cannot answer itself."""
    model_config = ConfigDict(extra="forbid")
    handoff_enabled: bool = Field(True, description="hand conversations to a human at all (else only answer)")
    handoff_phrases: list[Annotated[str, Field(min_length=2, max_length=100)]] = Field(
        default_factory=list, max_length=50,
        description="more phrases (besides the built-in Portuguese and English ones) that ask for a person")
    handoff_on_failure: bool = Field(True, description="hand off when the model fails or declines to answer")
    decline_marker: str = Field("[[handoff]]", min_length=3, max_length=50, description=(
        "a reply containing this text is not sent: the conversation goes to a human (tell the agent in its "
        "instructions to answer with it when it should not handle a request)"))
    handoff_message: str | None = Field(None, max_length=1000,
                                        description="sent to the customer when the conversation is handed off")
    media: Literal["handoff", "fallback"] = Field(
        "fallback", description="voice notes, images, documents: answer with media_fallback_text, or hand off")
    media_fallback_text: str = Field(
        "Desculpe, ainda não consigo ouvir áudios nem abrir anexos. Pode me escrever sua mensagem?",
        min_length=1, max_length=1000)
    window_template: Template | None = Field(None, description=(
        "WhatsApp: sent when a reply falls outside the 24-hour customer-service window; without it, hand off"))


class IntegrationCreate(_IntegrationFields):
    kind: Literal["chatwoot"] = "chatwoot"
    name: str = Field("", max_length=200)
    agent_id: UUID = Field(description="the agent that answers this inbox")
    base_url: str = Field(max_length=2000, description="your Chatwoot, e.g. https://app.chatwoot.com")
    account_id: AccountId
    api_access_token: str = Field(min_length=1, max_length=500,
                                  description="the agent bot's access token; used to post replies, never returned")
    webhook_secret: str | None = Field(None, min_length=1, max_length=500, description=(
        "Chatwoot's webhook secret: when set, inbound requests must carry a valid X-Chatwoot-Signature"))
    active: bool = True
    settings: ChannelSettings = Field(default_factory=ChannelSettings)


class WhatsAppIntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["whatsapp"]
    name: str = Field("", max_length=200)
    agent_id: UUID = Field(description="the agent that answers this number")
    phone_number_id: str = Field(pattern=r"^[0-9]{1,30}$", description="the Cloud API phone number id")
    access_token: str = Field(min_length=1, max_length=1000,
                              description="system-user access token; stored encrypted, never returned")
    app_secret: str = Field(min_length=1, max_length=200,
                            description="the Meta app secret that signs webhooks; stored encrypted, never returned")
    verify_token: str = Field(min_length=8, max_length=200, description=(
        "any string you also type into the Meta app's webhook settings; stored encrypted, never returned"))
    base_url: str = Field("https://graph.facebook.com", max_length=2000, description="the Graph API base URL")
    active: bool = True
    settings: ChannelSettings = Field(default_factory=ChannelSettings)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value).rstrip("/")


def _kind(value) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in ("chatwoot", "whatsapp") else "chatwoot"


AnyIntegrationCreate = Annotated[Annotated[IntegrationCreate, Tag("chatwoot")]
                                 | Annotated[WhatsAppIntegrationCreate, Tag("whatsapp")], Discriminator(_kind)]


class IntegrationUpdate(_IntegrationFields):
    name: str | None = Field(None, max_length=200)
    agent_id: UUID | None = None
    base_url: str | None = Field(None, max_length=2000)
    account_id: AccountId | None = None
    api_access_token: str | None = Field(None, min_length=1, max_length=500)
    webhook_secret: str | None = Field(None, max_length=500, description="empty string: remove it")
    active: bool | None = None
    settings: ChannelSettings | None = None
    # WhatsApp integrations: new credentials replace the stored ones (encrypted).
    phone_number_id: str | None = Field(None, pattern=r"^[0-9]{1,30}$")
    access_token: str | None = Field(None, min_length=1, max_length=1000)
    app_secret: str | None = Field(None, min_length=1, max_length=200)
    verify_token: str | None = Field(None, min_length=8, max_length=200)


class Integration(BaseModel):
    id: UUID
    organization_id: UUID
    kind: str
    name: str
    agent_id: UUID
    base_url: str
    account_id: str | None = Field(description="Chatwoot's account id")
    phone_number_id: str | None = Field(description="WhatsApp's phone number id")
    signature_required: bool = Field(description="inbound requests must be signed (WhatsApp always)")
    inbound_path: str = Field(description="where Chatwoot or Meta must send webhooks (Chatwoot: append ?token=... "
                                          "unless signed)")
    settings: ChannelSettings
    active: bool
    created_at: datetime
    updated_at: datetime


class IntegrationCreated(Integration):
    token: str | None = Field(None, description="Chatwoot: secret for the inbound URL (?token=); shown only here")
    inbound_url_path: str | None = Field(None, description="Chatwoot: inbound_path with the token")


class Inbound(BaseModel):
    status: Literal["accepted", "duplicate", "ignored"]
    reason: str | None = None
    accepted: int | None = Field(None, description="WhatsApp: new messages stored to be answered")
    duplicates: int | None = Field(None, description="WhatsApp: messages already received (Meta retried)")


class HandoffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("handed off by a person", min_length=1, max_length=500)


class ConversationHandoff(BaseModel):
    id: UUID
    channel: str
    external_id: str | None
    contact_id: UUID
    agent_id: UUID
    handoff_at: datetime | None = Field(description="set while a person has the conversation: the agent stays quiet")
    handoff_reason: str | None
