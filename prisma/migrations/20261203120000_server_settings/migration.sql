-- Per-server and per-channel settings set by operators with /assistant config (src/core/server-settings.ts):
-- a system prompt appended to SYSTEM_PROMPT, a chat model for base-model replies, and where the bot
-- answers (channels, roles). channelId '' is the server-wide row, a channel id a channel override.
CREATE TABLE "ServerSetting" (
    "platform" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "channelId" TEXT NOT NULL DEFAULT '',
    "systemPrompt" TEXT,
    "chatModel" TEXT,
    "allowedChannelIds" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "allowedRoleIds" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "updatedBy" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ServerSetting_pkey" PRIMARY KEY ("platform","serverId","channelId")
);

-- Every change to a server setting: who, when, which field, before and after.
CREATE TABLE "ServerSettingChange" (
    "id" BIGSERIAL NOT NULL,
    "changedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "changedBy" TEXT,
    "platform" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "channelId" TEXT NOT NULL DEFAULT '',
    "field" TEXT NOT NULL,
    "oldValue" TEXT,
    "newValue" TEXT,

    CONSTRAINT "ServerSettingChange_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "ServerSettingChange_platform_serverId_changedAt_idx" ON "ServerSettingChange"("platform", "serverId", "changedAt" DESC);
CREATE INDEX "ServerSettingChange_changedBy_idx" ON "ServerSettingChange"("changedBy");

-- The server an exchange was written in (NULL in DMs and for exchanges from before this column):
-- MEMORY_SCOPE=user-server keeps memory and few-shot within one server.
ALTER TABLE "Exchange" ADD COLUMN "serverId" TEXT;
