# The toolwire sandbox image: the tool server as entrypoint (uid 0 with only
# CAP_SETUID, CAP_SETGID and CAP_KILL, given by the launcher) running the
# tools as uid 1000 in /workspace, with what agents use (bash, coreutils, findutils, grep, git,
# python3, ca-certificates, procps). See container/README.md for the contract.
#
# BASE_IMAGE defaults to debian:bookworm-slim where a registry exists. Without
# one, container/make-base-image.sh makes toolwire-base:bookworm from Debian
# packages; it already holds every package, so no step below needs a network.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

# Install only what the base lacks (nothing, for the locally made base).
RUN set -eu; missing=""; \
    for pair in bash:bash git:git python3:python3 ps:procps find:findutils grep:grep; do \
      command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"; \
    done; \
    [ -e /etc/ssl/certs/ca-certificates.crt ] || missing="$missing ca-certificates"; \
    if [ -n "$missing" ]; then \
      apt-get update && apt-get install -y --no-install-recommends $missing && rm -rf /var/lib/apt/lists/*; \
    fi

# The unprivileged user tools run as; /run/toolwire (the server's only)
# receives the token file.
RUN grep -q '^agent:' /etc/passwd || { \
      echo 'agent:x:1000:1000:toolwire agent:/home/agent:/bin/bash' >> /etc/passwd; \
      echo 'agent:x:1000:' >> /etc/group; }; \
    mkdir -p /home/agent /workspace /run/toolwire; \
    chown 1000:1000 /home/agent /workspace; \
    chown 0:0 /run/toolwire; \
    chmod 0700 /run/toolwire

COPY toolwire-server /usr/local/bin/toolwire-server

USER 0:0
WORKDIR /workspace
EXPOSE 7000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/toolwire-server"]
CMD ["--listen", "0.0.0.0:7000", "--workdir", "/workspace", "--token-file", "/run/toolwire/token", "--tool-user", "1000:1000"]
