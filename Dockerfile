# Claude Max API Proxy in a container (not built in CI: there is no Docker engine there).
#
#   docker build -t claude-max-api .
#   # log in once; the login lives in the volume:
#   docker run -it --rm -v claude-max-api-home:/home/proxy --entrypoint claude claude-max-api
#   # serve; the container binds 0.0.0.0, so an API key is required (it refuses to start without):
#   docker run -d --name claude-max-api -p 127.0.0.1:3456:3456 \
#       -e CLAUDE_PROXY_API_KEYS=sk-your-own-long-random-key \
#       -v claude-max-api-home:/home/proxy claude-max-api
#   docker exec claude-max-api claude-max-api doctor
#
# Clients reaching it under another name than localhost / 127.0.0.1 (another container's
# service name, a LAN address) must be listed: -e CLAUDE_PROXY_ALLOWED_HOSTS=proxy,10.0.0.5
FROM python:3.12-slim-bookworm

ARG CLAUDE_CODE_VERSION=2.1.332

# The CLI from npm, pinned (a native binary; npm only warns EBADENGINE on Debian's Node).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates nodejs npm \
    && npm install -g "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}" \
    && npm cache clean --force \
    && rm -rf /var/lib/apt/lists/* \
    && claude --version

WORKDIR /src
COPY pyproject.toml README.md openapi.yaml ./
COPY handlers ./handlers
COPY cli_bridge ./cli_bridge
RUN pip install --no-cache-dir . && cd / && rm -rf /src

# Never root: the CLI refuses some modes as root, and the proxy needs no privileges.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin proxy
USER proxy
WORKDIR /home/proxy
ENV HOME=/home/proxy \
    CLAUDE_PROXY_HOST=0.0.0.0 \
    CLAUDE_PROXY_PORT=3456 \
    CLAUDE_PROXY_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
# The CLI keeps its login and settings in $HOME (~/.claude.json and ~/.claude/).
VOLUME ["/home/proxy"]
EXPOSE 3456
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3456/health', timeout=4)"
ENTRYPOINT ["claude-max-api"]
