# The bot. Migrations are applied by `npm start` before it connects to Discord or Slack.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Dev dependencies stay: the bot runs TypeScript through tsx, and prisma's CLI migrates on start.
RUN npm ci --include=dev && npm cache clean --force
COPY . .
RUN npx prisma generate
ENV DATA_DIR=/data
VOLUME ["/data"]
# node is PID 1, so SIGTERM from `docker stop` reaches the bot directly (graceful shutdown).
CMD ["node", "--import", "tsx", "src/main.ts"]
