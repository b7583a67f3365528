# The bot. Migrations are applied on start, before it connects to Discord or Slack.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Dev dependencies stay: prisma generate and the type checker need them; prisma's CLI migrates on start.
RUN npm ci --include=dev && npm cache clean --force
COPY . .
# The same bundle `npm start` builds (dist/), made once here instead of on every start.
RUN npx prisma generate && npm run build
ENV DATA_DIR=/data
VOLUME ["/data"]
# node is PID 1, so SIGTERM from `docker stop` reaches the bot directly (graceful shutdown).
CMD ["node", "dist/main.js"]
