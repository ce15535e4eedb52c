# The API image; docker-compose.yml also runs the mail and DNS simulators from it (`npm run sim:*` need
# the dev dependencies, so they stay installed).
FROM node:20-slim
WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci

COPY . .
RUN npm run build

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000
EXPOSE 4000
USER node
CMD ["node", "dist/src/main.js"]
