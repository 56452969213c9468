# facesync in a container: mount the repository holding your configuration at /repo.
#   docker build -t facesync .
#   docker run --rm -v "$PWD:/repo" facesync validate
#   docker run --rm -v "$PWD:/repo" -e FACESYNC_ENDPOINT -e FACESYNC_KEY facesync plan
# The key is passed through from the environment (-e FACESYNC_KEY), never baked into the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY facesync ./facesync
RUN pip install --no-cache-dir . && rm -rf /src

# A non-root user; .facesync/ (the local cache) is written beside the configuration, so the mounted
# repository must be writable by this uid (or run with --user "$(id -u):$(id -g)").
RUN useradd --create-home --uid 10001 facesync && mkdir /repo && chown facesync:facesync /repo
USER facesync
WORKDIR /repo

ENTRYPOINT ["facesync"]
CMD ["--help"]
