# The vaktpost container action: one static binary on an empty image. No shell, no
# libc, no package manager; TLS roots are compiled in (webpki-roots) and DNS is
# hickory reading the /etc/hosts and /etc/resolv.conf the container runtime mounts.
#
# The binary is built outside (scripts/build-image.sh locally; the release workflow
# per architecture) and staged at dist/linux-<arch>/vaktpost, so one Dockerfile serves
# a single-arch podman/docker build and a multi-arch `docker buildx` build without
# emulation: nothing here runs.
FROM scratch
ARG TARGETARCH=amd64
ARG VERSION=dev
LABEL org.opencontainers.image.title="vaktpost" \
      org.opencontainers.image.description="Post-deployment monitoring that runs inside CI: checks, rules, GitHub issues as alerts, job summaries." \
      org.opencontainers.image.source="https://github.com/vaktpost/vaktpost" \
      org.opencontainers.image.url="https://github.com/vaktpost/vaktpost" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY dist/linux-${TARGETARCH}/vaktpost /vaktpost
# GitHub runs Docker actions as root with /github/workspace as the working directory.
WORKDIR /github/workspace
ENTRYPOINT ["/vaktpost"]
