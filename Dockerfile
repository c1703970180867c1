# The vaktpost container action: one static binary on an empty image. No shell, no
# shared libraries, no package manager; TLS roots are compiled in (webpki-roots), DNS is
# hickory reading the /etc/hosts and /etc/resolv.conf the container runtime mounts.
#
# The binary is built outside (scripts/build-image.sh locally; the release workflow
# per architecture) and staged at dist/linux-<arch>/vaktpost, so one Dockerfile serves
# a single-arch podman/docker build and a multi-arch `docker buildx` build without
# emulation: nothing here runs.
FROM scratch
# Set by buildx per platform (amd64, arm64); scripts/build-image.sh passes it.
ARG TARGETARCH
ARG VERSION=dev
LABEL org.opencontainers.image.title="vaktpost" \
      org.opencontainers.image.description="Post-deployment monitoring that runs inside CI: checks, rules, GitHub issues as alerts, job summaries." \
      org.opencontainers.image.source="https://github.com/vaktpost/vaktpost" \
      org.opencontainers.image.url="https://github.com/vaktpost/vaktpost" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY dist/linux-${TARGETARCH}/vaktpost /vaktpost
# No USER: GitHub runs Docker actions as root (the default), in /github/workspace.
WORKDIR /github/workspace
ENTRYPOINT ["/vaktpost"]
